package state

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/state/seal"
)

// RotateResult counts what RotateKey changed.
type RotateResult struct {
	// Secrets is the number of stored Secret bodies sealed again.
	Secrets int
	// Plans is the number of plans waiting at the gate (pending or
	// approved) marked stale: their digests were keyed with the old key,
	// so gantry run plans them again.
	Plans int
	// MemoEntries is the number of no-op memo entries dropped (keyed with
	// the old key; planning learns them again).
	MemoEntries int
}

// ErrNotSealedWithKey refuses rotating the key of a database whose Secrets
// are sealed without one.
var ErrNotSealedWithKey = errors.New("this gantry has no GANTRY_SECRET_KEY to rotate from")

const (
	sqlStaleOpenGates = `
UPDATE plan_gates SET status = 'stale', decided_by = coalesce(decided_by, $1), decided_at = coalesce(decided_at, now()), decision_reason = $2
WHERE status IN ('pending', 'approved')
RETURNING plan_id, stack`
	sqlReplaceObjects = `
INSERT INTO objects (hash, body) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT (hash) DO NOTHING`
	sqlRepointObjects = `
UPDATE revision_objects ro SET object_hash = m.new FROM unnest($1::bytea[], $2::bytea[]) AS m(old, new)
WHERE ro.object_hash = m.old`
	sqlDropObjects = `DELETE FROM objects WHERE hash = ANY($1::bytea[])`
	sqlRotateKey   = `UPDATE secret_key_check SET check_value = $1, recorded_at = now()`
)

// RotateKey seals the database again with newKey (GANTRY_SECRET_KEY's
// format), in one transaction: every Secret encrypted with the store's key
// is decrypted and encrypted with newKey (those stored as salted hashes stay
// as they are), the check value becomes newKey's, plans waiting at the gate
// are marked stale and the no-op memo is cleared (both are keyed by a key
// derived from GANTRY_SECRET_KEY), and each stack's audit log gets a
// key.rotated event. It holds every stack's apply lock and retention's lock
// meanwhile, and refuses when an apply holds one. Afterwards the store
// seals with newKey; a gantry still running with the old key is refused at
// its next write.
func (s *Store) RotateKey(ctx context.Context, newKey, actor string) (*RotateResult, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if !s.sealer.HasKey() {
		return nil, fmt.Errorf("%s: %w: its Secrets are stored as salted hashes, which no key can read back; to start using a key, set GANTRY_SECRET_KEY (the first command run with it records it)", s.where, ErrNotSealedWithKey)
	}
	next, err := seal.New(newKey)
	if err != nil {
		return nil, fmt.Errorf("the new key: %w", err)
	}
	if next.SameKey(s.sealer) {
		return nil, errors.New("the new key is the key the database is sealed with already: give a new one (openssl rand -base64 32)")
	}
	res := &RotateResult{}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stacks, err := s.lockForRotation(ctx, tx)
		if err != nil {
			return err
		}
		if res.Secrets, err = s.reseal(ctx, tx, next); err != nil {
			return err
		}
		if res.Plans, err = staleOpenGates(ctx, tx, actorName(actor)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM plan_memo`)
		if err != nil {
			return fmt.Errorf("clear the no-op memo: %w", err)
		}
		res.MemoEntries = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, sqlRotateKey, next.Check()); err != nil {
			return fmt.Errorf("record the new key's check value: %w", err)
		}
		for _, st := range stacks {
			if err := appendAudit(ctx, tx, AuditEvent{Stack: st, Actor: actorName(actor), Data: event.KeyRotatedData{SecretsResealed: res.Secrets, PlansStale: res.Plans}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: rotate GANTRY_SECRET_KEY: %w (nothing was changed)", s.where, err)
	}
	s.sealer = next
	return res, nil
}

// lockForRotation takes retention's lock (which every revision write holds
// shared) and every stack's apply lock for the transaction, checks that the
// store's key is still the database's, and returns the stacks.
func (s *Store) lockForRotation(ctx context.Context, tx pgx.Tx) ([]string, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, gcLockKey); err != nil {
		return nil, err
	}
	rec, err := readKeyRecord(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("read the secret key check: %w", err)
	}
	if err := s.keyError(decideKey(rec, s.sealer.Check())); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT name FROM stacks ORDER BY name`)
	if err != nil {
		return nil, err
	}
	stacks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, st := range stacks {
		var got bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, lockKey(st)).Scan(&got); err != nil {
			return nil, err
		}
		if !got {
			return nil, fmt.Errorf("%w: %s is being applied or reconciled: stop gantry run and let running applies finish, then rotate", ErrLocked, st)
		}
	}
	return stacks, nil
}

// reseal replaces every stored Secret body holding encrypted values by the
// same Secret sealed with next, and points the revisions holding it at the
// new body.
func (s *Store) reseal(ctx context.Context, tx pgx.Tx, next *seal.Sealer) (int, error) {
	secrets, err := encryptedSecrets(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("find the sealed Secrets: %w", err)
	}
	olds, news, bodies := make([][]byte, 0, len(secrets)), make([][]byte, 0, len(secrets)), make([][]byte, 0, len(secrets))
	for _, sec := range secrets {
		sealed, err := s.sealer.Reseal(sec.obj, next)
		if errors.Is(err, ErrSecretNotRecoverable) {
			continue // stored as salted hashes: no key involved
		}
		if err != nil {
			return 0, err
		}
		body, err := object.Canonical(sealed)
		if err != nil {
			return 0, err
		}
		sum := sha256.Sum256(body)
		olds, news, bodies = append(olds, sec.hash), append(news, sum[:]), append(bodies, body)
	}
	if _, err := tx.Exec(ctx, sqlReplaceObjects, news, bodies); err != nil {
		return 0, fmt.Errorf("store the sealed Secrets: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlRepointObjects, olds, news); err != nil {
		return 0, fmt.Errorf("point revisions at the sealed Secrets: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlDropObjects, olds); err != nil {
		return 0, fmt.Errorf("drop the Secrets sealed with the old key: %w", err)
	}
	return len(olds), nil
}

// staleOpenGates marks the plans waiting at the gate stale, each with a
// plan.stale audit event.
func staleOpenGates(ctx context.Context, tx pgx.Tx, actor string) (int, error) {
	const why = "GANTRY_SECRET_KEY was rotated: the plan's digest was keyed with the old key; gantry run plans again"
	rows, err := tx.Query(ctx, sqlStaleOpenGates, actor, why)
	if err != nil {
		return 0, fmt.Errorf("mark waiting plans stale: %w", err)
	}
	type gate struct{ plan, stack string }
	gates, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (gate, error) {
		var g gate
		return g, row.Scan(&g.plan, &g.stack)
	})
	if err != nil {
		return 0, fmt.Errorf("mark waiting plans stale: %w", err)
	}
	for _, g := range gates {
		if err := appendAudit(ctx, tx, AuditEvent{Stack: g.stack, Actor: actor, PlanID: g.plan, Data: event.PlanStaleData{Reason: why}}); err != nil {
			return 0, err
		}
	}
	return len(gates), nil
}

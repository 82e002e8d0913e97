package state

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/sensitive"
	"github.com/gantryops/gantry/state/seal"
)

// ErrSecretKeyMissing refuses a gantry started without GANTRY_SECRET_KEY on
// a database whose Secrets are sealed with one: it would store new Secrets
// as hashes only and key digests by the salt alone.
var ErrSecretKeyMissing = errors.New("this database's Secrets are sealed with GANTRY_SECRET_KEY, which is not set")

// ErrSecretKeyDiffers refuses a gantry whose GANTRY_SECRET_KEY is not the key
// the database was sealed with: nothing sealed could be read back, and every
// digest recorded (approvals included) would differ.
var ErrSecretKeyDiffers = errors.New("GANTRY_SECRET_KEY differs from the key this database was sealed with")

// keyRecord is the database's secret_key_check row.
type keyRecord struct {
	// exists: the row is there (a key was used here).
	exists bool
	// check is its check value; nil when an older gantry sealed with a key
	// before checks were recorded.
	check []byte
}

// keyVerdict is what a gantry with some key (or none) makes of a keyRecord.
type keyVerdict int

const (
	// keyOK: the key is the database's, or neither has one.
	keyOK keyVerdict = iota
	// keyRecordIt: the first key used here: record its check value.
	keyRecordIt
	// keyVerifyIt: sealed with an unrecorded key: check the key against a
	// sealed value, then record it.
	keyVerifyIt
	// keyMissing: the database is sealed with a key and none is given.
	keyMissing
	// keyDiffers: the key is not the one recorded.
	keyDiffers
)

// decideKey compares the recorded key with check, the check value of the
// key given (nil: no key).
func decideKey(rec keyRecord, check []byte) keyVerdict {
	switch {
	case !rec.exists && check == nil:
		return keyOK
	case !rec.exists:
		return keyRecordIt
	case check == nil:
		return keyMissing
	case rec.check == nil:
		return keyVerifyIt
	case hmac.Equal(rec.check, check):
		return keyOK
	}
	return keyDiffers
}

const (
	sqlKeyRecord      = `SELECT check_value FROM secret_key_check`
	sqlRecordKey      = `INSERT INTO secret_key_check (check_value) VALUES ($1) ON CONFLICT (singleton) DO NOTHING`
	sqlRecordKeyFirst = `UPDATE secret_key_check SET check_value = $1, recorded_at = now() WHERE check_value IS NULL`
	// Secret bodies holding an encrypted value (the prefix as a JSON
	// string starts), for checking a key no check value was recorded for.
	sqlEncryptedSecrets = `
SELECT DISTINCT o.hash, o.body FROM objects o JOIN revision_objects ro ON ro.object_hash = o.hash
WHERE position($1::bytea IN o.body) > 0`
)

// encryptedMarker is how an encrypted value starts in a stored body.
var encryptedMarker = []byte(`"` + sensitive.SealedEncrypted)

// querier is what both a pool and a transaction can query.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readKeyRecord reads the secret_key_check row.
func readKeyRecord(ctx context.Context, q querier) (keyRecord, error) {
	var rec keyRecord
	err := q.QueryRow(ctx, sqlKeyRecord).Scan(&rec.check)
	if errors.Is(err, pgx.ErrNoRows) {
		return keyRecord{}, nil
	}
	rec.exists = err == nil
	return rec, err
}

// keyError is the error for a verdict a gantry may not go on with.
func (s *Store) keyError(v keyVerdict) error {
	switch v {
	case keyMissing:
		return fmt.Errorf("%s: %w: set it to the key the database was sealed with (history, show, diff, plans, approve and gc need none)", s.where, ErrSecretKeyMissing)
	case keyDiffers:
		return fmt.Errorf("%s: %w: set GANTRY_SECRET_KEY to the key the database was sealed with; to change keys on purpose, run gantry db rotate-key (docs/upgrades.md)", s.where, ErrSecretKeyDiffers)
	}
	return nil
}

// checkKey compares GANTRY_SECRET_KEY with the key the database was sealed
// with, at Open. A writable store records the first key used (or verifies
// one an older gantry sealed with, against a sealed value). A different key
// is refused; no key on a database sealed with one is refused unless
// keyOptional (the command seals, unseals and keys nothing), and then
// everything that would need the key is refused (Store.hashKey, and
// PutRevision's own check). A read-only store (a review) writes nothing and
// needs no key: it seals nothing, and the digests it computes are neither
// recorded nor shown.
func (s *Store) checkKey(ctx context.Context, keyOptional bool) error {
	rec, err := readKeyRecord(ctx, s.pool)
	var pgErr *pgconn.PgError
	if s.readOnly && errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		// docs/review.md grants reviews only the tables they need.
		s.log.Debug("the database role may not read secret_key_check: the key is not checked")
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: read the secret key check: %w", s.where, err)
	}
	switch v := decideKey(rec, s.sealer.Check()); {
	case v == keyOK:
		return nil
	case v == keyMissing && (keyOptional || s.readOnly):
		s.keyMissing = true
		return nil
	case v == keyMissing || v == keyDiffers:
		return s.keyError(v)
	case s.readOnly:
		return nil // nothing recorded yet; a writer records it
	case v == keyVerifyIt:
		if err := s.verifyKey(ctx); err != nil {
			return err
		}
		if err := s.recordKey(ctx, sqlRecordKeyFirst); err != nil {
			return err
		}
	default:
		if err := s.recordKey(ctx, sqlRecordKey); err != nil {
			return err
		}
	}
	// Another gantry may have recorded its own key meanwhile.
	if rec, err = readKeyRecord(ctx, s.pool); err != nil {
		return fmt.Errorf("%s: read the secret key check: %w", s.where, err)
	}
	return s.keyError(decideKey(rec, s.sealer.Check()))
}

// recordKey records the key's check value with sql (first use, or a key
// verified against what an older gantry sealed).
func (s *Store) recordKey(ctx context.Context, sql string) error {
	if _, err := s.pool.Exec(ctx, sql, s.sealer.Check()); err != nil {
		return fmt.Errorf("%s: record the secret key check: %w", s.where, err)
	}
	s.log.Info("recorded which GANTRY_SECRET_KEY this database is sealed with")
	return nil
}

// verifyKey checks the key against the Secrets an older gantry encrypted
// before the key was recorded: the first encrypted data or stringData value
// found must decrypt.
func (s *Store) verifyKey(ctx context.Context) error {
	secrets, err := encryptedSecrets(ctx, s.pool)
	if err != nil {
		return fmt.Errorf("%s: find a sealed Secret to check GANTRY_SECRET_KEY against: %w", s.where, err)
	}
	for _, sec := range secrets {
		for _, f := range (sensitive.Policy{}).Fields(sec.obj) {
			value, _ := f.Value.(string)
			if seal.IsAnnotation(f) || !strings.HasPrefix(value, sensitive.SealedEncrypted) {
				continue
			}
			if _, err := s.sealer.UnsealValue(object.RefOf(sec.obj), f, value); err != nil {
				return s.keyError(keyDiffers)
			}
			return nil
		}
	}
	return nil
}

// storedSecret is a stored Secret body and its address.
type storedSecret struct {
	hash []byte
	obj  *unstructured.Unstructured
}

// encryptedSecrets returns the stored Secrets holding encrypted values.
func encryptedSecrets(ctx context.Context, q querier) ([]storedSecret, error) {
	rows, err := q.Query(ctx, sqlEncryptedSecrets, encryptedMarker)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (storedSecret, error) {
		var sec storedSecret
		var body []byte
		if err := row.Scan(&sec.hash, &body); err != nil {
			return sec, err
		}
		var m map[string]any
		if err := utiljson.Unmarshal(body, &m); err != nil {
			return sec, fmt.Errorf("object %x: %w", sec.hash, err)
		}
		sec.obj = &unstructured.Unstructured{Object: m}
		return sec, nil
	})
}

// checkKeyTx repeats the check within a transaction that seals: a gantry
// that opened the database before its key was rotated (gantry db
// rotate-key) stores nothing under the old key.
func (s *Store) checkKeyTx(ctx context.Context, tx pgx.Tx) error {
	rec, err := readKeyRecord(ctx, tx)
	if err != nil {
		return fmt.Errorf("read the secret key check: %w", err)
	}
	switch v := decideKey(rec, s.sealer.Check()); v {
	case keyMissing, keyDiffers:
		return s.keyError(v)
	}
	return nil
}

// hashKey is the key of the stack's hashes (sealer.hashKey); without the key
// the database was sealed with, only a read-only store (a review, which
// records and shows no digest) may fall back to the salt.
func (s *Store) hashKey(salt []byte) (object.HashKey, error) {
	if s.keyMissing && !s.readOnly {
		return nil, s.keyError(keyMissing)
	}
	return s.sealer.HashKey(salt), nil
}

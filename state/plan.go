package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/event"
)

// PlanRecord is a plan as stored: its JSON body without the desired
// manifests, which are the objects of a revision.
type PlanRecord struct {
	// ID is the plan's client-generated ID.
	ID string
	// Stack names the stack.
	Stack string
	// Digest is the plan's digest.
	Digest string
	// Body is the plan's JSON without desired manifests; Secret values masked.
	Body []byte
	// Revision holds the desired manifests (stored sealed, loaded unsealed).
	Revision *Revision
	// RevisionID is Revision's ID, set when a plan is loaded.
	RevisionID string
	// HasChanges, Destructive, Approximate summarise the plan for queries.
	HasChanges, Destructive, Approximate bool
	// CreatedBy is who planned it; CreatedAt when.
	CreatedBy string
	CreatedAt time.Time
}

const (
	sqlPutPlan = `
INSERT INTO plans (id, stack, revision_id, digest, body, has_changes, destructive, approximate, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (id) DO NOTHING`

	sqlPlanDigest = `SELECT digest FROM plans WHERE id = $1`

	sqlFindPlan = `
SELECT id, stack, revision_id, digest, body, has_changes, destructive, approximate, created_by, created_at
FROM plans WHERE id::text LIKE $1 || '%' LIMIT 2`

	sqlAppendAudit = `
INSERT INTO audit_events (id, stack, actor, kind, plan_id, apply_id, details)
VALUES ($1, $2, $3, $4, $5, $6, $7)`
)

// RecordPlan stores a plan, its revision and a "plan.created" audit event in
// one transaction. Recording the same plan again changes nothing; another
// plan under the same ID is an error, and no error holds a value of the
// revision's Secrets or of the fields its policy declares sensitive.
func (s *Store) RecordPlan(ctx context.Context, p *PlanRecord) error {
	var rev Revision
	if p.Revision != nil {
		rev = *p.Revision
	}
	return rev.Sensitive.ScrubError(s.recordPlan(ctx, p), rev.Objects...)
}

func (s *Store) recordPlan(ctx context.Context, p *PlanRecord) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.recordPlanTx(ctx, tx, p) })
}

// recordPlanTx records p within tx (see RecordPlan).
func (s *Store) recordPlanTx(ctx context.Context, tx pgx.Tx, p *PlanRecord) error {
	var digest string
	err := tx.QueryRow(ctx, sqlPlanDigest, p.ID).Scan(&digest)
	switch {
	case err == nil && digest == p.Digest:
		return nil // a retry
	case err == nil:
		return fmt.Errorf("record plan %s: the id is taken by another plan (digest %s)", p.ID, digest)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("record plan %s: %w", p.ID, err)
	}
	revID, err := s.putRevision(ctx, tx, p.Revision)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, sqlPutPlan, p.ID, p.Stack, revID, p.Digest, p.Body, p.HasChanges, p.Destructive, p.Approximate, p.CreatedBy, p.CreatedAt); err != nil {
		return fmt.Errorf("record plan %s: %w", p.ID, err)
	}
	return appendAudit(ctx, tx, AuditEvent{Stack: p.Stack, Actor: p.CreatedBy, PlanID: p.ID,
		Data: event.PlanCreatedData{Digest: p.Digest, Commit: p.Revision.Commit, HasChanges: p.HasChanges, Destructive: p.Destructive, Approximate: p.Approximate, RestoredFrom: p.Revision.RestoredFrom}})
}

// Plan loads a recorded plan (by ID or an unambiguous prefix, as PlanBody)
// with its desired manifests (Secrets unsealed, which needs
// GANTRY_SECRET_KEY).
func (s *Store) Plan(ctx context.Context, ref string) (*PlanRecord, error) {
	p, err := s.PlanBody(ctx, ref)
	if err != nil {
		return nil, err
	}
	if p.Revision, err = s.Revision(ctx, p.RevisionID); err != nil {
		return nil, fmt.Errorf("plan %s: %w", p.ID, err)
	}
	return p, nil
}

// PlanBody finds a recorded plan by its ID or an unambiguous prefix of it
// (at least 6 characters), without its desired manifests: Revision is nil
// (RevisionID names it), and no key is needed. The body is what every rendering of the plan needs.
func (s *Store) PlanBody(ctx context.Context, ref string) (*PlanRecord, error) {
	if !uuidPrefix.MatchString(ref) {
		return nil, fmt.Errorf("plan %q: %w: give a plan ID (or its first 6 or more characters), as gantry plan and gantry history show it", ref, ErrBadReference)
	}
	rows, err := s.pool.Query(ctx, sqlFindPlan, ref)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", ref, err)
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*PlanRecord, error) {
		p := &PlanRecord{}
		err := row.Scan(&p.ID, &p.Stack, &p.RevisionID, &p.Digest, &p.Body, &p.HasChanges, &p.Destructive, &p.Approximate, &p.CreatedBy, &p.CreatedAt)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", ref, err)
	}
	switch len(recs) {
	case 0:
		return nil, fmt.Errorf("no plan %s in %s (plans without changes are not recorded): %w", ref, s.where, ErrNotFound)
	case 1:
		return recs[0], nil
	}
	return nil, fmt.Errorf("%q names more than one plan: %w: give more of the ID", ref, ErrBadReference)
}

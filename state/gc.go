package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/jackc/pgx/v5"
)

// gcLockKey is the advisory lock retention holds exclusively while it deletes
// objects, and every revision write holds shared, so that no object is
// deleted between being found and being referenced.
const gcLockKey int64 = 0x67616e747279_01 // "gantry", 1

// GCOptions says which revisions of a stack retention keeps. At least one
// of Keep and OlderThan must be set; a revision is kept when either keeps it.
type GCOptions struct {
	// Keep keeps the revisions of the Keep most recent succeeded applies,
	// and every revision created after the oldest of them.
	Keep int
	// OlderThan keeps revisions created or last applied at or after it.
	OlderThan time.Time
	// Actor is who runs it, for the audit log.
	Actor string
}

// GCResult counts what retention deleted.
type GCResult struct {
	Revisions, Plans, Applies, Objects int
}

// ErrNothingToKeep refuses GC options that keep nothing by themselves.
var ErrNothingToKeep = errors.New("say what to keep: --keep N or --older-than DURATION")

// GC deletes the stack's revisions that opts does not keep, with their
// plans and applies, and then the objects no remaining revision (of any
// stack) references, in one transaction. It never deletes the audit log,
// the live revision (of the last succeeded apply) or a held one.
func (s *Store) GC(ctx context.Context, stack string, opts GCOptions) (*GCResult, error) {
	if opts.Keep <= 0 && opts.OlderThan.IsZero() {
		return nil, ErrNothingToKeep
	}
	if err := s.stackExists(ctx, stack); err != nil {
		return nil, err
	}
	res := &GCResult{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, gcLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE doomed (id uuid PRIMARY KEY) ON COMMIT DROP`); err != nil {
			return err
		}
		keep := opts.Keep
		if keep <= 0 {
			keep = 0
		}
		var olderThan *time.Time
		if !opts.OlderThan.IsZero() {
			olderThan = &opts.OlderThan
		}
		if _, err := tx.Exec(ctx, sqlDoomed, stack, keep, olderThan); err != nil {
			return fmt.Errorf("choose revisions: %w", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM applies WHERE plan_id IN (SELECT p.id FROM plans p JOIN doomed d ON d.id = p.revision_id)`)
		if err != nil {
			return err
		}
		res.Applies = int(tag.RowsAffected())
		if tag, err = tx.Exec(ctx, `DELETE FROM plans WHERE revision_id IN (SELECT id FROM doomed)`); err != nil {
			return err
		}
		res.Plans = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE candidates ON COMMIT DROP AS
SELECT DISTINCT object_hash AS hash FROM revision_objects WHERE revision_id IN (SELECT id FROM doomed)`); err != nil {
			return err
		}
		if tag, err = tx.Exec(ctx, `DELETE FROM revisions WHERE id IN (SELECT id FROM doomed)`); err != nil {
			return err
		}
		res.Revisions = int(tag.RowsAffected())
		if tag, err = tx.Exec(ctx, `DELETE FROM objects o USING candidates c WHERE o.hash = c.hash
AND NOT EXISTS (SELECT 1 FROM revision_objects ro WHERE ro.object_hash = o.hash)`); err != nil {
			return err
		}
		res.Objects = int(tag.RowsAffected())
		return appendAudit(ctx, tx, AuditEvent{Stack: stack, Actor: actorName(opts.Actor), Data: event.GCData{
			Keep: opts.Keep, OlderThan: olderThan, Revisions: res.Revisions, Plans: res.Plans, Applies: res.Applies, Objects: res.Objects,
		}})
	})
	if err != nil {
		return nil, fmt.Errorf("gc %s: %w", stack, err)
	}
	return res, nil
}

// sqlDoomed picks the stack's revisions retention deletes: not the live one,
// not the held one, not those of the $2 most recent succeeded applies nor
// created after the oldest of those, and not created or applied since $3.
const sqlDoomed = `
WITH applied AS (
    SELECT p.revision_id, max(a.finished_at) AS last_applied
    FROM applies a JOIN plans p ON p.id = a.plan_id
    WHERE a.stack = $1 AND a.status = 'succeeded'
    GROUP BY p.revision_id
),
recent AS (
    SELECT revision_id, last_applied FROM applied ORDER BY last_applied DESC LIMIT $2
),
live AS (
    SELECT revision_id FROM applied ORDER BY last_applied DESC LIMIT 1
)
INSERT INTO doomed
SELECT r.id FROM revisions r LEFT JOIN applied ap ON ap.revision_id = r.id
WHERE r.stack = $1
  AND r.id NOT IN (SELECT revision_id FROM live)
  AND r.id NOT IN (SELECT revision_id FROM recent)
  AND r.id IS DISTINCT FROM (SELECT held_revision FROM stacks WHERE name = $1)
  AND NOT ($2 > 0 AND r.created_at > coalesce((SELECT min(rc.created_at) FROM revisions rc JOIN recent ON recent.revision_id = rc.id), 'infinity'))
  AND NOT ($3::timestamptz IS NOT NULL AND (r.created_at >= $3 OR ap.last_applied >= $3))
  AND NOT ($2 = 0 AND $3::timestamptz IS NULL)`

func actorName(a string) string {
	if a == "" {
		return "unknown"
	}
	return a
}

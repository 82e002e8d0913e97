package state

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/jackc/pgx/v5"
)

// RevisionInfo describes a stored revision without its objects.
type RevisionInfo struct {
	ID, Stack, Commit string
	// Number is the stack's short number for it (shop@3).
	Number int
	// RestoredFrom is the ID (and RestoredFromNumber the number) of the
	// revision a restore copied; empty otherwise.
	RestoredFrom       string
	RestoredFromNumber int
	Objects            int
	CreatedAt          time.Time
}

// revisionInfoColumns select a RevisionInfo from revisions r joined with
// o, the revision it was restored from; revisionInfoDest scans them.
const (
	revisionInfoColumns = `r.id, r.stack, r.commit_sha, r.number, coalesce(r.restored_from::text, ''), coalesce(o.number, 0), r.object_count, r.created_at`
	sqlRevisionInfo     = `SELECT ` + revisionInfoColumns + ` FROM revisions r LEFT JOIN revisions o ON o.id = r.restored_from`
)

func revisionInfoDest(r *RevisionInfo) []any {
	return []any{&r.ID, &r.Stack, &r.Commit, &r.Number, &r.RestoredFrom, &r.RestoredFromNumber, &r.Objects, &r.CreatedAt}
}

var uuidPrefix = regexp.MustCompile(`^[0-9a-f][0-9a-f-]{5,35}$`)

// ResolveRevision finds a revision of stack by its number ("3"), its ID, or
// an unambiguous prefix of its ID (at least 6 characters).
func (s *Store) ResolveRevision(ctx context.Context, stack, ref string) (*RevisionInfo, error) {
	if err := s.stackExists(ctx, stack); err != nil {
		return nil, err
	}
	var rows pgx.Rows
	var err error
	if n, convErr := strconv.Atoi(ref); convErr == nil && len(ref) < 6 {
		rows, err = s.pool.Query(ctx, sqlRevisionInfo+` WHERE r.stack = $1 AND r.number = $2`, stack, n)
	} else if uuidPrefix.MatchString(ref) {
		rows, err = s.pool.Query(ctx, sqlRevisionInfo+` WHERE r.stack = $1 AND r.id::text LIKE $2 || '%' LIMIT 2`, stack, ref)
	} else {
		return nil, fmt.Errorf("revision %q of stack %s: give its number (as gantry history shows) or its ID", ref, stack)
	}
	if err != nil {
		return nil, fmt.Errorf("revision %s of stack %s: %w", ref, stack, err)
	}
	infos, err := pgx.CollectRows(rows, scanRevisionInfo)
	if err != nil {
		return nil, fmt.Errorf("revision %s of stack %s: %w", ref, stack, err)
	}
	switch len(infos) {
	case 0:
		return nil, fmt.Errorf("stack %s has no revision %s (see gantry history %s): %w", stack, ref, stack, ErrNotFound)
	case 1:
		return &infos[0], nil
	}
	return nil, fmt.Errorf("%q names more than one revision of stack %s: give more of the ID", ref, stack)
}

func scanRevisionInfo(row pgx.CollectableRow) (RevisionInfo, error) {
	var r RevisionInfo
	err := row.Scan(revisionInfoDest(&r)...)
	return r, err
}

// ErrNothingLive is returned (wrapped) when no apply of a stack had
// succeeded by the moment asked about.
var ErrNothingLive = errors.New("no revision was live then")

// LiveRevisionAt returns the revision live at t: the revision of the stack's
// last succeeded apply that finished at or before t (to the microsecond), and
// when that apply finished.
func (s *Store) LiveRevisionAt(ctx context.Context, stack string, t time.Time) (*RevisionInfo, time.Time, error) {
	if err := s.stackExists(ctx, stack); err != nil {
		return nil, time.Time{}, err
	}
	var id string
	var at time.Time
	err := s.pool.QueryRow(ctx, `
SELECT p.revision_id, a.finished_at FROM applies a JOIN plans p ON p.id = a.plan_id
WHERE a.stack = $1 AND a.status = 'succeeded' AND a.finished_at <= $2
ORDER BY a.finished_at DESC LIMIT 1`, stack, t).Scan(&id, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		var first *time.Time
		_ = s.pool.QueryRow(ctx, `SELECT min(finished_at) FROM applies WHERE stack = $1 AND status = 'succeeded'`, stack).Scan(&first)
		if first == nil {
			return nil, time.Time{}, fmt.Errorf("stack %s has never been applied successfully: %w", stack, ErrNothingLive)
		}
		return nil, time.Time{}, fmt.Errorf("nothing of stack %s was live at %s: its first apply completed at %s: %w",
			stack, t.UTC().Format(time.RFC3339), first.UTC().Format(time.RFC3339), ErrNothingLive)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("live revision of %s at %s: %w", stack, t, err)
	}
	info, err := s.revisionInfo(ctx, id)
	return info, at, err
}

// LastApplyOf returns the plan and finishing time of the last succeeded
// apply of revision id that finished by t (the zero t: ever). ErrNotFound
// (wrapped) means the revision was never live by then.
func (s *Store) LastApplyOf(ctx context.Context, id string, t time.Time) (planID string, finishedAt time.Time, err error) {
	var by *time.Time
	if !t.IsZero() {
		by = &t
	}
	err = s.pool.QueryRow(ctx, `
SELECT a.plan_id, a.finished_at FROM applies a JOIN plans p ON p.id = a.plan_id
WHERE p.revision_id = $1 AND a.status = 'succeeded' AND ($2::timestamptz IS NULL OR a.finished_at <= $2)
ORDER BY a.finished_at DESC LIMIT 1`, id, by).Scan(&planID, &finishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, fmt.Errorf("revision %s was never applied successfully: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("applies of revision %s: %w", id, err)
	}
	return planID, finishedAt, nil
}

func (s *Store) revisionInfo(ctx context.Context, id string) (*RevisionInfo, error) {
	rows, err := s.pool.Query(ctx, sqlRevisionInfo+` WHERE r.id = $1`, id)
	if err != nil {
		return nil, err
	}
	info, err := pgx.CollectExactlyOneRow(rows, scanRevisionInfo)
	if err != nil {
		return nil, fmt.Errorf("revision %s: %w", id, err)
	}
	return &info, nil
}

func (s *Store) stackExists(ctx context.Context, stack string) error {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM stacks WHERE name = $1)`, stack).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no stack %q in %s: it has never been planned here: %w", stack, s.where, ErrNotFound)
	}
	return nil
}

// HistoryEntry is one apply of a stack, with the revision it applied.
type HistoryEntry struct {
	Revision   RevisionInfo
	ApplyID    string
	PlanID     string
	Actor      string
	Status     ApplyStatus
	Error      string
	StartedAt  time.Time
	FinishedAt *time.Time
	// Added, Changed, Destroyed count the apply's outcomes as Terraform does.
	Added, Changed, Destroyed int
}

// History returns the stack's applies, newest first, at most limit (0: all).
func (s *Store) History(ctx context.Context, stack string, limit int) ([]HistoryEntry, error) {
	if err := s.stackExists(ctx, stack); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.pool.Query(ctx, `
SELECT `+revisionInfoColumns+`,
       a.id, a.plan_id, a.actor, a.status, coalesce(a.error, ''), a.started_at, a.finished_at,
       count(*) FILTER (WHERE x.outcome IN ('applied', 'replaced') AND x.action IN ('create', 'replace')),
       count(*) FILTER (WHERE x.outcome = 'applied' AND x.action IN ('update', 'adopt')),
       count(*) FILTER (WHERE x.outcome = 'deleted' OR (x.outcome = 'replaced'))
FROM applies a
JOIN plans p ON p.id = a.plan_id
JOIN revisions r ON r.id = p.revision_id
LEFT JOIN revisions o ON o.id = r.restored_from
LEFT JOIN apply_outcomes x ON x.apply_id = a.id
WHERE a.stack = $1
GROUP BY r.id, o.number, a.id
ORDER BY a.started_at DESC
LIMIT $2`, stack, limit)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", stack, err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (HistoryEntry, error) {
		var e HistoryEntry
		err := row.Scan(append(revisionInfoDest(&e.Revision),
			&e.ApplyID, &e.PlanID, &e.Actor, &e.Status, &e.Error, &e.StartedAt, &e.FinishedAt, &e.Added, &e.Changed, &e.Destroyed)...)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", stack, err)
	}
	return entries, nil
}

// AuditLog returns the stack's audit events, newest first, at most limit (0: all).
func (s *Store) AuditLog(ctx context.Context, stack string, limit int) ([]AuditEvent, error) {
	if err := s.stackExists(ctx, stack); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.pool.Query(ctx, `
SELECT id, at, stack, actor, kind, coalesce(plan_id::text, ''), coalesce(apply_id::text, ''), details
FROM audit_events WHERE stack = $1 ORDER BY at DESC, id LIMIT $2`, stack, limit)
	if err != nil {
		return nil, fmt.Errorf("audit log of %s: %w", stack, err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEvent, error) {
		var e AuditEvent
		err := row.Scan(&e.ID, &e.At, &e.Stack, &e.Actor, &e.Kind, &e.PlanID, &e.ApplyID, &e.Details)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit log of %s: %w", stack, err)
	}
	return events, nil
}

// Hold says a stack is held after a restore.
type Hold struct {
	// Revision is the restored revision applied.
	Revision RevisionInfo
	Since    time.Time
	// AgainstCommit: Git commits equal to it or older (its ancestors) are
	// not applied while the hold lasts.
	AgainstCommit string
	By            string
}

// HoldOf returns the stack's hold, or nil.
func (s *Store) HoldOf(ctx context.Context, stack string) (*Hold, error) {
	var id *string
	h := &Hold{}
	var since *time.Time
	var against, by *string
	err := s.pool.QueryRow(ctx, `SELECT held_revision::text, held_since, held_against_commit, held_by FROM stacks WHERE name = $1`, stack).Scan(&id, &since, &against, &by)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && id == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hold of %s: %w", stack, err)
	}
	info, err := s.revisionInfo(ctx, *id)
	if err != nil {
		return nil, err
	}
	h.Revision, h.Since = *info, *since
	if against != nil {
		h.AgainstCommit = *against
	}
	if by != nil {
		h.By = *by
	}
	return h, nil
}

// Resume lifts a stack's hold, with an audit event. Resuming a stack that is
// not held is not an error.
func (s *Store) Resume(ctx context.Context, stack, actor string) (*Hold, error) {
	if err := s.stackExists(ctx, stack); err != nil {
		return nil, err
	}
	h, err := s.HoldOf(ctx, stack)
	if err != nil || h == nil {
		return nil, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlClearHold, stack); err != nil {
			return err
		}
		return appendAudit(ctx, tx, AuditEvent{Stack: stack, Actor: actor, Data: event.StackResumedData{HeldRevision: h.Revision.Number, HeldSince: &h.Since}})
	})
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", stack, err)
	}
	return h, nil
}

const (
	sqlClearHold = `UPDATE stacks SET held_revision = NULL, held_since = NULL, held_against_commit = NULL, held_by = NULL WHERE name = $1`
	// Hold the stack on the revision of the plan just applied, against the
	// commit of the last Git revision applied before it (restores excluded:
	// a restore while held, or right after a resume, holds against the same
	// Git commit as the first one).
	sqlSetHold = `
UPDATE stacks SET held_revision = (SELECT revision_id FROM plans WHERE id = $2), held_since = $3, held_by = $4,
    held_against_commit = (SELECT r.commit_sha FROM applies a JOIN plans p ON p.id = a.plan_id JOIN revisions r ON r.id = p.revision_id
                           WHERE a.stack = $1 AND a.status = 'succeeded' AND a.id <> $5 AND p.body->>'restored_from' IS NULL
                           ORDER BY a.finished_at DESC LIMIT 1)
WHERE name = $1`
)

// LiveCommit returns the commit of the stack's last succeeded apply (what
// the cluster runs, as far as gantry knows), or "" when none succeeded.
func (s *Store) LiveCommit(ctx context.Context, stack string) (string, error) {
	var commit string
	err := s.pool.QueryRow(ctx, `
SELECT r.commit_sha FROM applies a JOIN plans p ON p.id = a.plan_id JOIN revisions r ON r.id = p.revision_id
WHERE a.stack = $1 AND a.status = 'succeeded' ORDER BY a.finished_at DESC LIMIT 1`, stack).Scan(&commit)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("live commit of %s: %w", stack, err)
	}
	return commit, nil
}

package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// ApplyStatus is how an apply ended (or that it runs). Stored: stable values.
type ApplyStatus string

// Apply statuses.
const (
	ApplyRunning     ApplyStatus = "running"
	ApplySucceeded   ApplyStatus = "succeeded"
	ApplyFailed      ApplyStatus = "failed"
	ApplyInterrupted ApplyStatus = "interrupted"
)

// ApplyStart records the start of an apply.
type ApplyStart struct {
	// ID is client-generated.
	ID, PlanID, Stack, Actor string
	StartedAt                time.Time
	// Intent lists every change the apply may make (Ref and Action), each
	// recorded as a "pending" outcome before any of them is made.
	Intent []Outcome
}

// Outcome results the record adds to the applier's: an intent not carried
// out yet, and one whose process ended before it could say.
const (
	OutcomePending = "pending"
	OutcomeUnknown = "unknown"
)

// Outcome is what an apply did to one object.
type Outcome struct {
	Ref object.Ref
	// Action is the plan's action; Result what happened (applied, deleted,
	// failed, skipped, ...); Error why it failed; Ready the object's status
	// after the apply (kstatus), if waited for.
	Action, Result, Error, Ready string
	Duration                     time.Duration
}

// ApplyFinish is everything recorded when an apply ends, in one transaction.
type ApplyFinish struct {
	ID, PlanID, Stack, Actor string
	Status                   ApplyStatus
	// Error says why it failed or was interrupted.
	Error    string
	Outcomes []Outcome
	// Inventory replaces the stack's inventory, which must still be at
	// ExpectGeneration.
	Inventory        []plan.InventoryObject
	ExpectGeneration int64
	// Memo holds entries for the objects applied.
	Memo       map[object.Ref]plan.MemoEntry
	FinishedAt time.Time
	// Restore marks the apply of a restore: when it succeeds, the stack is
	// held. Any other succeeded apply lifts a hold.
	Restore bool
}

const (
	sqlStartApply = `
INSERT INTO applies (id, plan_id, stack, actor, status, started_at) VALUES ($1, $2, $3, $4, 'running', $5)
ON CONFLICT (id) DO NOTHING`

	sqlApplyStatus = `SELECT status FROM applies WHERE id = $1 FOR UPDATE`

	sqlPutOutcomes = `
INSERT INTO apply_outcomes (apply_id, api_group, kind, namespace, name, action, outcome, error, ready, duration_ms)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[])
ON CONFLICT (apply_id, api_group, kind, namespace, name) DO UPDATE
SET outcome = EXCLUDED.outcome, error = EXCLUDED.error, ready = EXCLUDED.ready, duration_ms = EXCLUDED.duration_ms`

	sqlFinishApply = `
UPDATE applies SET status = $2, error = $3, finished_at = $4, inventory_generation = $5 WHERE id = $1`

	sqlInterruptRunning = `
UPDATE applies SET status = 'interrupted', error = $2, finished_at = now()
WHERE stack = $1 AND status = 'running' RETURNING id, plan_id`

	sqlUnknownOutcomes = `UPDATE apply_outcomes SET outcome = 'unknown' WHERE apply_id = $1 AND outcome = 'pending'`

	// Everything a dead apply may have created or changed joins the
	// inventory, addressed with the version its plan applied it with, so
	// that nothing it made goes untracked; but hooks, which are runs, never
	// kept (a prune would delete a hook's last run, and a generated hook's
	// name is not the ref on record).
	sqlGrowInventoryFrom = `
INSERT INTO inventory_objects (stack, api_group, kind, namespace, name, api_version)
SELECT $1, o.api_group, o.kind, o.namespace, o.name, convert_from(ob.body, 'UTF8')::jsonb->>'apiVersion'
FROM apply_outcomes o
JOIN applies a ON a.id = o.apply_id
JOIN plans p ON p.id = a.plan_id
JOIN revision_objects ro ON ro.revision_id = p.revision_id AND ro.api_group = o.api_group AND ro.kind = o.kind
    AND ro.namespace = o.namespace AND ro.name = o.name
JOIN objects ob ON ob.hash = ro.object_hash
WHERE o.apply_id = $2 AND o.action <> 'delete' AND o.outcome IN ('applied', 'replaced', 'failed', 'unknown')
    AND NOT coalesce(convert_from(ob.body, 'UTF8')::jsonb->'metadata'->'annotations' ? 'helm.sh/hook', false)
ON CONFLICT DO NOTHING`
)

// StartApply records that an apply of a plan started — its intent, one
// pending outcome per change, and an audit event — in one transaction,
// before the apply changes anything.
func (s *Store) StartApply(ctx context.Context, a ApplyStart) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlStartApply, a.ID, a.PlanID, a.Stack, a.Actor, a.StartedAt)
		if err != nil {
			return fmt.Errorf("record start of apply %s: %w", a.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return nil // a retry
		}
		intent := make([]Outcome, len(a.Intent))
		for i, o := range a.Intent {
			intent[i] = Outcome{Ref: o.Ref, Action: o.Action, Result: OutcomePending}
		}
		if err := putOutcomes(ctx, tx, a.ID, intent); err != nil {
			return err
		}
		return appendAudit(ctx, tx, AuditEvent{Stack: a.Stack, Actor: a.Actor, PlanID: a.PlanID, ApplyID: a.ID,
			Data: event.ApplyStartedData{Changes: len(a.Intent)}})
	})
}

// RecordOutcomes records what a running apply did to some of its objects,
// as it goes, so that a process that dies leaves a record of what it did.
func (s *Store) RecordOutcomes(ctx context.Context, applyID string, outcomes []Outcome) error {
	return putOutcomes(ctx, s.pool, applyID, outcomes)
}

func putOutcomes(ctx context.Context, db execer, applyID string, outcomes []Outcome) error {
	n := len(outcomes)
	if n == 0 {
		return nil
	}
	groups, kinds, namespaces, names := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	actions, results, errs, ready, ms := make([]string, n), make([]string, n), make([]*string, n), make([]*string, n), make([]int32, n)
	for i, o := range outcomes {
		groups[i], kinds[i], namespaces[i], names[i] = o.Ref.Group, o.Ref.Kind, o.Ref.Namespace, o.Ref.Name
		actions[i], results[i], ms[i] = o.Action, o.Result, int32(o.Duration.Milliseconds())
		errs[i], ready[i] = optional(o.Error), optional(o.Ready)
	}
	if _, err := db.Exec(ctx, sqlPutOutcomes, applyID, groups, kinds, namespaces, names, actions, results, errs, ready, ms); err != nil {
		return fmt.Errorf("record outcomes of apply %s: %w", applyID, err)
	}
	return nil
}

// FinishApply records how an apply ended, all in one transaction: the
// per-object outcomes, the new inventory (only if still at the expected
// generation), the memo, the apply's status and an audit event. It returns
// the inventory generation the apply left. A retry after success changes
// nothing.
func (s *Store) FinishApply(ctx context.Context, f ApplyFinish) (int64, error) {
	var gen int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, sqlApplyStatus, f.ID).Scan(&status); err != nil {
			return fmt.Errorf("apply %s: %w", f.ID, err)
		}
		if ApplyStatus(status) != ApplyRunning {
			return tx.QueryRow(ctx, `SELECT coalesce(inventory_generation, 0) FROM applies WHERE id = $1`, f.ID).Scan(&gen)
		}
		n := len(f.Outcomes)
		if err := putOutcomes(ctx, tx, f.ID, f.Outcomes); err != nil {
			return err
		}
		var err error
		if gen, err = setInventory(ctx, tx, f.Stack, f.ExpectGeneration, f.Inventory); err != nil {
			return err
		}
		if err := putMemo(ctx, tx, f.Stack, f.Memo); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlFinishApply, f.ID, string(f.Status), optional(f.Error), f.FinishedAt, gen); err != nil {
			return fmt.Errorf("finish apply %s: %w", f.ID, err)
		}
		if f.Status == ApplySucceeded {
			if err := updateHold(ctx, tx, f); err != nil {
				return err
			}
		}
		if err := auditPrunes(ctx, tx, f); err != nil {
			return err
		}
		end := event.ApplyEnd{InventoryGeneration: gen, Objects: n, Error: f.Error}
		var data event.Data
		switch f.Status {
		case ApplySucceeded:
			data = event.ApplySucceededData(end)
		case ApplyFailed:
			data = event.ApplyFailedData(end)
		case ApplyInterrupted:
			data = event.ApplyInterruptedData(end)
		default:
			return fmt.Errorf("finish apply %s: status %q is not an ending", f.ID, f.Status)
		}
		return appendAudit(ctx, tx, AuditEvent{Stack: f.Stack, Actor: f.Actor, PlanID: f.PlanID, ApplyID: f.ID, Data: data})
	})
	if err != nil {
		return 0, err
	}
	return gen, nil
}

// updateHold holds the stack after a restore, and lifts a hold after any
// other succeeded apply (which the engine allows only for a newer commit).
func updateHold(ctx context.Context, tx pgx.Tx, f ApplyFinish) error {
	if !f.Restore {
		tag, err := tx.Exec(ctx, sqlClearHold+` AND held_revision IS NOT NULL`, f.Stack)
		if err != nil {
			return fmt.Errorf("lift hold of %s: %w", f.Stack, err)
		}
		if tag.RowsAffected() > 0 {
			return appendAudit(ctx, tx, AuditEvent{Stack: f.Stack, Actor: f.Actor, PlanID: f.PlanID, ApplyID: f.ID,
				Data: event.StackResumedData{Reason: "a newer commit was applied"}})
		}
		return nil
	}
	if _, err := tx.Exec(ctx, sqlSetHold, f.Stack, f.PlanID, f.FinishedAt, f.Actor, f.ID); err != nil {
		return fmt.Errorf("hold %s: %w", f.Stack, err)
	}
	var from string
	if err := tx.QueryRow(ctx, `SELECT coalesce(body->>'restored_from', '') FROM plans WHERE id = $1`, f.PlanID).Scan(&from); err != nil {
		return fmt.Errorf("hold %s: %w", f.Stack, err)
	}
	if err := appendAudit(ctx, tx, AuditEvent{Stack: f.Stack, Actor: f.Actor, PlanID: f.PlanID, ApplyID: f.ID, Data: event.StackRestoredData{RestoredFrom: from}}); err != nil {
		return err
	}
	return appendAudit(ctx, tx, AuditEvent{Stack: f.Stack, Actor: f.Actor, PlanID: f.PlanID, ApplyID: f.ID, Data: event.StackHeldData{}})
}

// auditPrunes records what the apply's prune did with each object: an
// object.pruned event for one deleted (or terminating), object.kept for one
// left alone because it changed hands.
func auditPrunes(ctx context.Context, tx pgx.Tx, f ApplyFinish) error {
	for _, o := range f.Outcomes {
		if o.Action != "delete" {
			continue
		}
		obj := event.ObjectData{Object: o.Ref.String(), Result: o.Result}
		var data event.Data
		switch o.Result {
		case "deleted", "terminating":
			data = event.ObjectPrunedData(obj)
		case "kept":
			data = event.ObjectKeptData(obj)
		default:
			continue
		}
		if err := appendAudit(ctx, tx, AuditEvent{Stack: f.Stack, Actor: f.Actor, PlanID: f.PlanID, ApplyID: f.ID, Data: data}); err != nil {
			return err
		}
	}
	return nil
}

// ApplyInfo is an apply as recorded.
type ApplyInfo struct {
	ID, PlanID, Stack, Actor string
	Status                   ApplyStatus
	Error                    string
	StartedAt                time.Time
	FinishedAt               *time.Time
	Outcomes                 []Outcome
}

// Apply loads a recorded apply with its outcomes.
func (s *Store) Apply(ctx context.Context, id string) (*ApplyInfo, error) {
	a := &ApplyInfo{ID: id}
	var errText *string
	err := s.pool.QueryRow(ctx, `SELECT plan_id, stack, actor, status, error, started_at, finished_at FROM applies WHERE id = $1`, id).
		Scan(&a.PlanID, &a.Stack, &a.Actor, &a.Status, &errText, &a.StartedAt, &a.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("apply %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", id, err)
	}
	if errText != nil {
		a.Error = *errText
	}
	rows, err := s.pool.Query(ctx, `SELECT api_group, kind, namespace, name, action, outcome, coalesce(error, ''), coalesce(ready, ''), duration_ms
FROM apply_outcomes WHERE apply_id = $1 ORDER BY api_group, kind, namespace, name`, id)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", id, err)
	}
	a.Outcomes, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Outcome, error) {
		var o Outcome
		var ms int32
		err := row.Scan(&o.Ref.Group, &o.Ref.Kind, &o.Ref.Namespace, &o.Ref.Name, &o.Action, &o.Result, &o.Error, &o.Ready, &ms)
		o.Duration = time.Duration(ms) * time.Millisecond
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", id, err)
	}
	return a, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

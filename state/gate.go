package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/jackc/pgx/v5"
)

// Gate is a plan's row at the gate: what the gate decides on (PlanID,
// Status, Digest, Commit, Reason, DecidedBy), and when and why.
type Gate struct {
	gate.Latest
	Stack    string
	PendedAt time.Time
	// DecidedAt and DecisionReason record the last decision (approval,
	// rejection, or the engine superseding it) with DecidedBy; empty before.
	DecisionReason string
	DecidedAt      time.Time
	// ApprovedDigest is the plan digest the approval is bound to.
	ApprovedDigest string
	// Destructive and CreatedAt come from the plan.
	Destructive bool
	CreatedAt   time.Time
}

// ErrNotPending refuses deciding on a plan that does not wait for a decision.
var ErrNotPending = errors.New("plan is not pending")

const (
	sqlPend = `
INSERT INTO plan_gates (plan_id, stack, status, reason, pended_at) VALUES ($1, $2, 'pending', $3, $4)
ON CONFLICT (plan_id) DO NOTHING`
	sqlSupersedeOpen = `
UPDATE plan_gates SET status = 'superseded', decided_by = $2, decided_at = $3, decision_reason = $4
WHERE stack = $1 AND status IN ('pending', 'approved') AND plan_id <> $5
RETURNING plan_id`
	sqlGateColumns = `
SELECT g.plan_id, g.stack, g.status, g.reason, g.pended_at, coalesce(g.decided_by, ''), coalesce(g.decision_reason, ''),
       coalesce(g.decided_at, 'epoch'), coalesce(g.approved_digest, ''), p.digest, coalesce(p.body->'source'->>'commit', ''), p.destructive, p.created_at
FROM plan_gates g JOIN plans p ON p.id = g.plan_id`
	sqlGateOf      = sqlGateColumns + ` WHERE g.plan_id = $1 FOR UPDATE OF g`
	sqlGatesByStat = sqlGateColumns + ` WHERE ($1 = '' OR g.stack = $1) AND ($2 = '' OR g.status = $2) ORDER BY g.seq DESC LIMIT $3`
	sqlDecide      = `
UPDATE plan_gates SET status = $2, decided_by = $3, decided_at = $4, decision_reason = $5, approved_digest = $6 WHERE plan_id = $1`
	sqlCloseGate = `
UPDATE plan_gates SET status = $3, decided_by = coalesce(decided_by, $4), decided_at = coalesce(decided_at, $5),
    decision_reason = CASE WHEN $6 = '' THEN decision_reason ELSE $6 END
WHERE plan_id = $1 AND status = $2
RETURNING stack`
)

func scanGate(row pgx.Row) (*Gate, error) {
	g := &Gate{}
	err := row.Scan(&g.PlanID, &g.Stack, &g.Status, &g.Reason, &g.PendedAt, &g.DecidedBy, &g.DecisionReason,
		&g.DecidedAt, &g.ApprovedDigest, &g.Digest, &g.Commit, &g.Destructive, &g.CreatedAt)
	if err != nil {
		return nil, err
	}
	if g.DecidedAt.Unix() == 0 {
		g.DecidedAt = time.Time{}
	}
	return g, nil
}

// Pend puts a recorded plan at the gate, waiting for a person, and
// supersedes whatever plan of the stack waited before it, in one
// transaction with the audit events. Pending the same plan again changes
// nothing.
func (s *Store) Pend(ctx context.Context, planID, stack, reason, actor string, at time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return pend(ctx, tx, planID, stack, reason, actor, at)
	})
}

func pend(ctx context.Context, tx pgx.Tx, planID, stack, reason, actor string, at time.Time) error {
	if err := supersede(ctx, tx, stack, planID, actor, "superseded by plan "+planID, at); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, sqlPend, planID, stack, reason, at)
	if err != nil {
		return fmt.Errorf("pend plan %s of %s: %w", planID, stack, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return appendAudit(ctx, tx, AuditEvent{Stack: stack, Actor: actor, PlanID: planID, Data: event.PlanPendingData{Reason: reason}})
}

// GateRecord is what one decision of the gate records about a plan, in
// this order and in one transaction: all of it, or nothing.
type GateRecord struct {
	// Stack and Actor say whose plan and who decided; At when.
	Stack, Actor string
	At           time.Time
	// PlanID names the plan.
	PlanID string
	// Plan is recorded (with its plan.created event) when not nil.
	Plan *PlanRecord
	// Supersede closes the stack's open plan, with this reason ("": none);
	// KeepPlan spares PlanID itself.
	Supersede string
	KeepPlan  bool
	// Pend puts the plan at the gate, waiting for a person, for this reason
	// ("": it does not wait).
	Pend string
	// Event is recorded about the plan last (nil: none).
	Event event.Data
}

// RecordGate records a decision of the gate in one transaction.
func (s *Store) RecordGate(ctx context.Context, r GateRecord) error {
	var rev Revision
	if r.Plan != nil && r.Plan.Revision != nil {
		rev = *r.Plan.Revision
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if r.Plan != nil {
			if err := s.recordPlanTx(ctx, tx, r.Plan); err != nil {
				return err
			}
		}
		if r.Supersede != "" {
			keep := ""
			if r.KeepPlan {
				keep = r.PlanID
			}
			if err := supersede(ctx, tx, r.Stack, keep, r.Actor, r.Supersede, r.At); err != nil {
				return err
			}
		}
		if r.Pend != "" {
			if err := pend(ctx, tx, r.PlanID, r.Stack, r.Pend, r.Actor, r.At); err != nil {
				return err
			}
		}
		if r.Event == nil {
			return nil
		}
		return appendAudit(ctx, tx, AuditEvent{Stack: r.Stack, Actor: r.Actor, PlanID: r.PlanID, Data: r.Event})
	})
	return rev.Sensitive.ScrubError(err, rev.Objects...)
}

// Supersede marks the stack's waiting or approved plan superseded (a newer
// commit replaced it), unless it is keep.
func (s *Store) Supersede(ctx context.Context, stack, keep, actor, why string, at time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return supersede(ctx, tx, stack, keep, actor, why, at)
	})
}

func supersede(ctx context.Context, tx pgx.Tx, stack, keep, actor, why string, at time.Time) error {
	if keep == "" {
		keep = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := tx.Query(ctx, sqlSupersedeOpen, stack, actor, at, why, keep)
	if err != nil {
		return fmt.Errorf("supersede plans of %s: %w", stack, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("supersede plans of %s: %w", stack, err)
	}
	for _, id := range ids {
		if err := appendAudit(ctx, tx, AuditEvent{Stack: stack, Actor: actor, PlanID: id, Data: event.PlanSupersededData{Reason: why}}); err != nil {
			return err
		}
	}
	return nil
}

// Decision is a person's answer to a pending plan.
type Decision struct {
	// PlanID is the plan's ID or an unambiguous prefix of it.
	PlanID string
	// Approve approves; false rejects.
	Approve bool
	// Actor is who decides; Reason why (optional).
	Actor, Reason string
	At            time.Time
}

// Decide approves or rejects a pending plan, binding an approval to the
// plan's digest, with its audit event, in one transaction. A plan that is
// not pending (never was, already decided, superseded) is refused with
// ErrNotPending and a message saying where it stands.
func (s *Store) Decide(ctx context.Context, d Decision) (*Gate, error) {
	rec, err := s.PlanBody(ctx, d.PlanID)
	if err != nil {
		return nil, err
	}
	var out *Gate
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		g, err := scanGate(tx.QueryRow(ctx, sqlGateOf, rec.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: plan %s of %s never waited for approval (it was applied at once, or it is not a plan of `gantry run`)", ErrNotPending, rec.ID, rec.Stack)
		}
		if err != nil {
			return fmt.Errorf("plan %s: %w", rec.ID, err)
		}
		if g.Status != gate.StatusPending {
			return fmt.Errorf("%w: plan %s of %s is %s%s; see `gantry plans --pending` for the plans that wait", ErrNotPending, g.PlanID, g.Stack, g.Status, decidedBy(g))
		}
		status, digest := gate.StatusRejected, ""
		if d.Approve {
			status, digest = gate.StatusApproved, g.Digest
		}
		if _, err := tx.Exec(ctx, sqlDecide, g.PlanID, status, d.Actor, d.At, d.Reason, nullable(digest)); err != nil {
			return fmt.Errorf("decide plan %s: %w", g.PlanID, err)
		}
		g.Status, g.DecidedBy, g.DecidedAt, g.DecisionReason, g.ApprovedDigest = status, d.Actor, d.At, d.Reason, digest
		out = g
		var data event.Data = event.PlanRejectedData{Digest: g.Digest, Reason: d.Reason, Destructive: g.Destructive}
		if d.Approve {
			data = event.PlanApprovedData{Digest: g.Digest, Reason: d.Reason, Destructive: g.Destructive}
		}
		return appendAudit(ctx, tx, AuditEvent{Stack: g.Stack, Actor: d.Actor, PlanID: g.PlanID, Data: data})
	})
	return out, err
}

func decidedBy(g *Gate) string {
	if g.DecidedBy == "" {
		return ""
	}
	s := fmt.Sprintf(" (by %s at %s", g.DecidedBy, g.DecidedAt.UTC().Format(time.RFC3339))
	if g.DecisionReason != "" {
		s += ": " + g.DecisionReason
	}
	return s + ")"
}

// LatestGate returns the stack's newest plan at the gate, whatever its
// status, or nil. A stack has at most one pending or approved plan, and it
// is always the newest (pending a plan supersedes the one before).
func (s *Store) LatestGate(ctx context.Context, stack string) (*Gate, error) {
	gates, err := s.Gates(ctx, stack, "", 1)
	if err != nil || len(gates) == 0 {
		return nil, err
	}
	return gates[0], nil
}

// Open reports whether the plan waits (pending) or is approved, not
// applied; false for no plan (nil).
func (g *Gate) Open() bool { return g != nil && g.Latest.Open() }

// Of returns what the gate decides on of g, or nil for no plan.
func (g *Gate) Of() *gate.Latest {
	if g == nil {
		return nil
	}
	return &g.Latest
}

// Gates lists plans at the gate, newest first: of one stack (or all, with
// stack ""), in one status (or all, with status "").
func (s *Store) Gates(ctx context.Context, stack string, status gate.Status, limit int) ([]*Gate, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, sqlGatesByStat, stack, string(status), limit)
	if err != nil {
		return nil, fmt.Errorf("plans at the gate: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Gate, error) { return scanGate(row) })
}

// CloseGate moves a plan from status from to status to (applied or stale)
// as the engine acts on it; why is recorded when given. Moving to stale
// appends a plan.stale audit event in the same transaction. It reports
// whether the plan was still in status from.
func (s *Store) CloseGate(ctx context.Context, planID string, from, to gate.Status, actor, why string, at time.Time) (bool, error) {
	moved := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var stack string
		err := tx.QueryRow(ctx, sqlCloseGate, planID, from, to, actor, at, why).Scan(&stack)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		moved = true
		if to != gate.StatusStale {
			return nil
		}
		return appendAudit(ctx, tx, AuditEvent{Stack: stack, Actor: actor, PlanID: planID, Data: event.PlanStaleData{Reason: why}})
	})
	if err != nil {
		return false, fmt.Errorf("plan %s: %s -> %s: %w", planID, from, to, err)
	}
	return moved, nil
}

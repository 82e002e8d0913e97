package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
)

// RefusedError: the apply of a plan was refused before its first write
// (changes known to fail, a stale plan, a destructive plan or a rollback
// nobody approved, a held stack); nothing was changed, and the refusal is
// on record (an apply.refused audit event with the reason).
type RefusedError struct {
	// PlanID is the plan refused.
	PlanID string
	// Err says why.
	Err error
}

// Error says that nothing was changed, and why the plan was refused.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("apply of plan %s refused, nothing was changed: %v", e.PlanID, e.Err)
}

// Unwrap returns why the plan was refused (apply.ErrKnownToFail,
// plan.ErrPlanStale, ...).
func (e *RefusedError) Unwrap() error { return e.Err }

// refusal is the last plan of a stack whose apply was refused, kept so that
// the same plan computed again is refused again without being recorded
// again: a stack reconciled every few seconds (backoff) would otherwise add
// a plan and two audit events each time, without bound.
type refusal struct {
	digest string
	err    *RefusedError
}

// refuse ends, before the gate, the reconcile of a plan that cannot be
// applied as it is (done, with the refusal as the error): exactly the plan
// refused last time is refused again without a new record (Repeat); a plan
// with changes known to fail is recorded with its refusal. Not done for a
// plan that may go through the gate.
func (e *Engine) refuse(ctx context.Context, p *plan.Plan, actor string, gate *state.Gate, res *ReconcileResult) (done bool, err error) {
	if refused := e.refusedBefore(p); refused != nil {
		res.Outcome, res.Plan, res.Repeat = OutcomeRefused, nil, true
		res.Reason = fmt.Sprintf("plan %s doing exactly this was refused: nothing is applied until a commit or the cluster changes it", refused.PlanID)
		return true, refused
	}
	e.remember(p, nil) // a new plan: the last refusal is past
	refused := knownToFail(p)
	if refused == nil {
		return false, nil
	}
	res.Outcome, res.Reason = OutcomeRefused, fmt.Sprintf("plan %s cannot be applied as it is: nothing was changed", p.ID)
	if err := e.recordRefusal(ctx, p, actor, gate, refused); err != nil {
		return true, errors.Join(refused, err)
	}
	e.remember(p, refused)
	return true, refused
}

// refusedBefore returns the refusal of p when p is exactly the plan last
// refused for its stack (the same digest: the same objects, against the
// same live objects), else nil. A new commit, or a change in the cluster,
// makes a new plan, which is decided afresh.
func (e *Engine) refusedBefore(p *plan.Plan) *RefusedError {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.refused[p.Stack]
	if !ok || r.digest != p.Digest {
		return nil
	}
	return r.err
}

// remember keeps the refusal of p (nil: forgets the stack's last one).
func (e *Engine) remember(p *plan.Plan, err *RefusedError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		delete(e.refused, p.Stack)
		return
	}
	e.refused[p.Stack] = refusal{digest: p.Digest, err: err}
}

// knownToFail refuses a plan with changes it knows will fail
// (plan.KnownFailures: objects other stacks own, conflicts it does not
// force, damaged changes), as the apply would, but before the gate: nobody
// can approve such a plan into working, and a window would only delay its
// refusal. Nil when the plan has no known failure.
func knownToFail(p *plan.Plan) *RefusedError {
	failures := plan.KnownFailures(p)
	if len(failures) == 0 {
		return nil
	}
	return &RefusedError{PlanID: p.ID, Err: &apply.KnownFailuresError{Failures: failures}}
}

// recordRefusal records the refusal of p before the gate: the plan, the
// open gate superseded, an apply.refused audit event.
func (e *Engine) recordRefusal(ctx context.Context, p *plan.Plan, actor string, gate *state.Gate, refused *RefusedError) error {
	if err := e.recordPlan(ctx, p, actor); err != nil {
		return err
	}
	if gate.Open() {
		why := fmt.Sprintf("superseded by plan %s (commit %s), which cannot be applied as it is", p.ID, object.ShortSHA(p.Source.Commit))
		if err := e.store.Supersede(ctx, p.Stack, p.ID, actor, why, e.now()); err != nil {
			return err
		}
	}
	return e.store.Audit(ctx, state.AuditEvent{Stack: p.Stack, Actor: actor, Kind: state.AuditApplyRefused, PlanID: p.ID,
		Details: map[string]any{"error": refused.Err.Error()}})
}

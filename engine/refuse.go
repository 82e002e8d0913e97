package engine

import (
	"fmt"

	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/plan"
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

// memory returns what the engine remembers of the stack for the gate: its
// plan refused last, and the digest of its plan last recorded without
// being applied.
func (e *Engine) memory(stack string) (refused gate.Seen, reported string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.refused[stack]; ok {
		refused = gate.Seen{PlanID: r.err.PlanID, Digest: r.digest}
	}
	return refused, e.reported[stack]
}

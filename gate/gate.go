package gate

import (
	"fmt"
	"strings"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

// Latest is the stack's newest plan at the gate, as the record holds it.
type Latest struct {
	// PlanID names the plan; Status is where it stands.
	PlanID string
	Status Status
	// Digest and Commit are the plan's.
	Digest, Commit string
	// Reason says why the plan waits for a person.
	Reason string
	// DecidedBy is who approved or rejected it (or the engine superseding
	// it); empty before.
	DecidedBy string
}

// Open reports whether the plan waits (pending) or is approved, not
// applied.
func (l *Latest) Open() bool {
	return l != nil && (l.Status == StatusPending || l.Status == StatusApproved)
}

// Input is what the gate decides on.
type Input struct {
	// Stack holds the policies: approval, drift, windows.
	Stack stack.Stack
	// Commit is the commit rendered.
	Commit string
	// Plan is the plan of Commit against the cluster; nil before planning.
	Plan *plan.Plan
	// Latest is the stack's newest plan at the gate, or nil.
	Latest *Latest
	// Moved: Latest was approved for Commit, and its apply found that the
	// cluster moved since it was planned; it is marked stale, no longer
	// open, and Plan is the plan made again.
	Moved bool
	// Now is when the decision is made (windows).
	Now time.Time
	// LastRefused is the stack's plan refused last, while this engine runs
	// (zero: none).
	LastRefused Seen
	// LastReported is the digest of the stack's plan last recorded without
	// being applied (drift reported, deferred by a window), while this
	// engine runs; "" for none.
	LastReported string
}

// Seen is a plan the engine remembers.
type Seen struct {
	PlanID, Digest string
}

// Step is what the engine does once the decision is recorded.
type Step int

// Steps.
const (
	// Stop: the outcome is final.
	Stop Step = iota
	// MakePlan: plan Commit (decided before planning: there is no approved
	// plan to apply).
	MakePlan
	// ApplyApproved: apply Latest, the plan a person approved; when its
	// apply finds it stale, mark it so and decide again with Moved on the
	// plan made again.
	ApplyApproved
	// ApplyPlan: apply Plan.
	ApplyPlan
)

// Decision is what the gate decided, for the engine to carry out: record,
// in the order of the fields, then take Step.
type Decision struct {
	// Outcome and Reason are the reconcile's when Step is Stop (the apply's
	// result decides them otherwise).
	Outcome Outcome
	Reason  string
	Step    Step
	// Approved: the apply counts as approved (a person's approval, or the
	// stack's approval policy auto).
	Approved bool
	// Record: record the plan (plan.created).
	Record bool
	// Supersede: close the stack's open plan.
	Supersede *Supersede
	// Pend: the plan waits for a person, for this reason (pending it closes
	// the open plan itself); "" when it does not.
	Pend string
	// Event: an event about the plan to record after it (nil: none). A
	// refusal's (event.ApplyRefusedData) gets its error from the engine.
	Event event.Data
	// Report: remember the plan as recorded without being applied
	// (Input.LastReported), so the same plan is not recorded again.
	Report bool
	// Refuse: the plan has changes known to fail (plan.KnownFailures): it is
	// refused with them, and remembered (Input.LastRefused).
	Refuse []plan.KnownFailure
	// Repeat: the plan is the one refused last: it is refused again with
	// the same error, and nothing is recorded.
	Repeat bool
	// ForgetRefusal: the plan is a new one: the stack's last refusal is past.
	ForgetRefusal bool
	// HidePlan: the reconcile's result carries no plan (the plan is the one
	// that already waits, or one a person rejected).
	HidePlan bool
}

// Supersede closes the stack's open plan.
type Supersede struct {
	// Keep: the plan decided on stays (it replaces the open one).
	Keep bool
	// Why is recorded as the decision's reason.
	Why string
}

// Decide decides what becomes of the stack's plan: before planning (Plan
// nil), whether to apply the approved plan at the gate; after, what to
// record and whether to apply. It does no I/O.
func Decide(in Input) Decision {
	if in.Plan == nil {
		return beforePlan(in)
	}
	if d, ok := settled(in); ok {
		return d
	}
	return decideNew(in)
}

// beforePlan applies the plan a person approved for the commit rendered
// when a window allows it; otherwise the commit is planned.
func beforePlan(in Input) Decision {
	l := in.Latest
	if l == nil || l.Status != StatusApproved || l.Commit != in.Commit {
		return Decision{Step: MakePlan}
	}
	if ok, why := in.Stack.ApplyAllowed(in.Now); !ok {
		return Decision{Outcome: Deferred, Reason: fmt.Sprintf("approved plan %s waits: %s", l.PlanID, why)}
	}
	return Decision{Step: ApplyApproved, Approved: true}
}

// open is the stack's plan still open at the gate: Latest, unless it moved
// (then it is stale).
func open(in Input) *Latest {
	if in.Moved || !in.Latest.Open() {
		return nil
	}
	return in.Latest
}

// settled decides the plans whose fate needs no policy: a held stack, no
// changes, a plan a person rejected, the plan that already waits, drift
// reported, a plan refused.
func settled(in Input) (Decision, bool) {
	p, l, waiting := in.Plan, in.Latest, open(in)
	only, drifted := DriftOnly(p)
	switch {
	case p.Held != "":
		return Decision{Outcome: Held, Reason: p.Held}, true
	case !p.HasChanges():
		d := Decision{Outcome: Unchanged}
		if waiting != nil {
			d.Supersede = &Supersede{Why: fmt.Sprintf("the cluster matches commit %s: nothing left to apply", object.ShortSHA(in.Commit))}
		}
		return d, true
	case l != nil && l.Digest == p.Digest && l.Status == StatusRejected:
		// A person said no to exactly this; ask again only when something
		// changes (a commit, or the cluster).
		return Decision{Outcome: Rejected, Reason: fmt.Sprintf("plan %s doing exactly this was rejected by %s", l.PlanID, l.DecidedBy), HidePlan: true}, true
	case waiting != nil && waiting.Digest == p.Digest:
		// The same plan still waits (for a person, or approved for its window).
		if waiting.Status == StatusApproved {
			return Decision{Outcome: Deferred, Reason: fmt.Sprintf("approved plan %s waits for commit %s", waiting.PlanID, object.ShortSHA(waiting.Commit)), HidePlan: true}, true
		}
		return Decision{Outcome: Pending, Reason: fmt.Sprintf("plan %s waits: %s", waiting.PlanID, waiting.Reason), HidePlan: true}, true
	case only && in.Stack.Drift == stack.DriftReport:
		d := Decision{Outcome: DriftReported, Reason: fmt.Sprintf("%d object(s) changed out of band; drift: report applies nothing", drifted)}
		return reportOnce(in, d, waiting, event.DriftDetectedData{Drifted: driftedRefs(p)}), true
	case in.LastRefused.Digest != "" && in.LastRefused.Digest == p.Digest:
		return Decision{Outcome: Refused, Repeat: true, HidePlan: true,
			Reason: fmt.Sprintf("plan %s doing exactly this was refused: nothing is applied until a commit or the cluster changes it", in.LastRefused.PlanID)}, true
	}
	if failures := plan.KnownFailures(p); len(failures) > 0 {
		d := Decision{Outcome: Refused, Reason: fmt.Sprintf("plan %s cannot be applied as it is: nothing was changed", p.ID),
			Record: true, Refuse: failures, Event: event.ApplyRefusedData{}}
		if waiting != nil {
			d.Supersede = &Supersede{Keep: true, Why: fmt.Sprintf("superseded by plan %s (commit %s), which cannot be applied as it is", p.ID, object.ShortSHA(p.Source.Commit))}
		}
		return d, true
	}
	return Decision{}, false
}

// decideNew decides a new plan that may be applied: by the approval
// policy, then the windows.
func decideNew(in Input) Decision {
	p, waiting := in.Plan, open(in)
	d := Decision{Record: true, ForgetRefusal: true}
	if why := ApprovalReason(in.Stack, p); why != "" {
		d.Outcome, d.Reason, d.Pend = Pending, why, why
		return d
	}
	if waiting != nil {
		d.Supersede = &Supersede{Keep: true, Why: "superseded by plan " + p.ID}
	}
	if ok, why := in.Stack.ApplyAllowed(in.Now); !ok {
		d.Outcome, d.Reason = Deferred, why
		return reportOnce(in, d, nil, event.ApplyDeferredData{Reason: why})
	}
	d.Step, d.Approved = ApplyPlan, in.Stack.Approval == stack.ApprovalAuto
	return d
}

// reportOnce records a plan that is not applied, with e, once per plan:
// a stack reconciled every few minutes would otherwise record the same
// plan again and again. waiting, when the plan was not recorded before,
// is superseded by it.
func reportOnce(in Input, d Decision, waiting *Latest, e event.Data) Decision {
	if in.LastReported == in.Plan.Digest {
		return d
	}
	d.Record, d.Event, d.Report = true, e, true
	if waiting != nil {
		d.Supersede = &Supersede{Keep: true, Why: "superseded by plan " + in.Plan.ID}
	}
	return d
}

// DriftOnly reports whether every change of p undoes an out-of-band change
// (the revision did not change), and how many objects drifted.
func DriftOnly(p *plan.Plan) (only bool, drifted int) {
	only = true
	for _, c := range p.Changes {
		if c.Action == plan.ActionNoop {
			continue
		}
		if c.Drift {
			drifted++
		} else {
			only = false
		}
	}
	return only && drifted > 0, drifted
}

func driftedRefs(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Drift && c.Action != plan.ActionNoop {
			out = append(out, c.Ref.String())
		}
	}
	return out
}

// ApprovalReason says why p waits for a person, or "": a rollback on a
// stack that verifies signatures, whatever its policy; then the policy.
func ApprovalReason(s stack.Stack, p *plan.Plan) string {
	switch {
	case p.Rollback != "":
		return "rollback: " + p.Rollback
	case s.Approval == stack.ApprovalManual:
		return "approval: manual (every plan waits for a person)"
	case s.Approval == stack.ApprovalAutoUnlessDestructive && len(p.Destructive) > 0:
		return "destructive: " + strings.Join(p.Destructive, "; ")
	}
	return ""
}

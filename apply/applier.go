package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/defaults"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// Cluster is what applying needs from the API server. kube.Cluster
// implements it.
type Cluster interface {
	plan.Cluster
	// Apply server-side applies obj as gantry and returns it as stored.
	Apply(ctx context.Context, r object.Resource, obj *unstructured.Unstructured, force bool) (*unstructured.Unstructured, error)
	// Create creates obj as gantry (a hook named by metadata.generateName:
	// the server names it) and returns it as stored.
	Create(ctx context.Context, r object.Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error)
	// Delete deletes ref; a missing object is not an error.
	Delete(ctx context.Context, r object.Resource, ref object.Ref, propagation metav1.DeletionPropagation) error
	// Get returns the live object (apierrors.IsNotFound when missing).
	Get(ctx context.Context, r object.Resource, ref object.Ref) (*unstructured.Unstructured, error)
}

// Options configures an Applier.
type Options struct {
	// Concurrency bounds the requests in flight within a phase.
	Concurrency int
	// Wait for applied objects to be ready (kstatus Current) before pruning.
	Wait bool
	// Timeout bounds the wait for readiness, and for a replaced object to go.
	Timeout time.Duration
	// PollInterval is how often readiness is checked.
	PollInterval time.Duration
	// OnEvent, if set, is called as objects progress (from several goroutines).
	OnEvent func(Event)
	// OnOutcome, if set, is called with each object's outcome as soon as it
	// is known (from several goroutines), so that it can be recorded while
	// the apply goes on.
	OnOutcome func(Outcome)
	// Fence, if set, is called before every write to the cluster; an
	// error stops that write (the object fails with it). It is how an apply
	// stops once its stack's lock is lost.
	Fence func(context.Context) error
}

// DefaultOptions returns 16 requests in flight and a 5 minute wait.
func DefaultOptions() Options {
	return Options{Concurrency: 16, Wait: true, Timeout: 5 * time.Minute, PollInterval: 500 * time.Millisecond}
}

// Applier applies plans to one cluster.
type Applier struct {
	cluster Cluster
	opts    Options
}

// New returns an Applier.
func New(c Cluster, opts Options) *Applier {
	d := DefaultOptions()
	opts.Concurrency = defaults.Positive(opts.Concurrency, d.Concurrency)
	opts.Timeout = defaults.Positive(opts.Timeout, d.Timeout)
	opts.PollInterval = defaults.Positive(opts.PollInterval, d.PollInterval)
	return &Applier{cluster: c, opts: opts}
}

// OnOutcome adds f to the functions told each object's outcome (see
// Options.OnOutcome).
func (a *Applier) OnOutcome(f func(Outcome)) {
	prev := a.opts.OnOutcome
	a.opts.OnOutcome = func(o Outcome) {
		f(o)
		if prev != nil {
			prev(o)
		}
	}
}

// SetFence sets Options.Fence.
func (a *Applier) SetFence(f func(context.Context) error) { a.opts.Fence = f }

// fence runs the fence, if any.
func (a *Applier) fence(ctx context.Context) error {
	if a.opts.Fence == nil {
		return nil
	}
	return a.opts.Fence(ctx)
}

// Errors Check returns, before any write.
var (
	// ErrApproximate refuses a plan computed with --diff=local.
	ErrApproximate = errors.New("the plan is approximate")
	// ErrNotApproved refuses a destructive plan nobody approved.
	ErrNotApproved = errors.New("the plan is destructive and not approved")
	// ErrKnownToFail refuses a plan with changes its apply is known to
	// fail on (plan.KnownFailures); the error is a *KnownFailuresError.
	ErrKnownToFail = errors.New("the plan cannot be applied as it is")
	// ErrConflicts refuses a plan with conflicts it does not force; the
	// error is a *KnownFailuresError, and errors.Is matches ErrKnownToFail
	// too.
	ErrConflicts = errors.New("the plan has field-manager conflicts")
)

// KnownFailuresError refuses a plan some of whose changes are known to
// fail: applying it would make the others first and leave the revision half
// applied.
type KnownFailuresError struct {
	// Failures are the changes known to fail, in plan order.
	Failures []plan.KnownFailure
}

// Error names every failure and what to do about it.
func (e *KnownFailuresError) Error() string {
	lines := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		lines[i] = f.String()
	}
	return fmt.Sprintf("%v: %d change(s) would fail after the others were made, leaving the revision half applied:\n  %s",
		ErrKnownToFail, len(e.Failures), strings.Join(lines, "\n  "))
}

// Is matches ErrKnownToFail, and ErrConflicts when conflicts are among the
// failures.
func (e *KnownFailuresError) Is(target error) bool {
	if target == ErrKnownToFail {
		return true
	}
	return target == ErrConflicts && slices.ContainsFunc(e.Failures, func(f plan.KnownFailure) bool { return f.Kind == plan.FailureConflict })
}

// Check refuses, before any write, a plan that must not be applied: what
// Refusal refuses, and a stale plan (plan.ErrPlanStale, naming every object
// that moved and whether the inventory moved).
func (a *Applier) Check(ctx context.Context, p *plan.Plan, salt []byte, inventoryGeneration int64, approved bool) error {
	if err := Refusal(p, approved); err != nil {
		return err
	}
	return plan.Verify(ctx, a.cluster, p, salt, inventoryGeneration)
}

// Refusal decides from the plan alone whether it must not be applied: an
// approximate plan (ErrApproximate), a plan with changes known to fail
// (ErrKnownToFail: objects other stacks own, conflicts it does not force,
// damaged changes; see plan.KnownFailures), a destructive plan without
// approval (ErrNotApproved). Nil when nothing in the plan forbids it (it
// may still be stale).
func Refusal(p *plan.Plan, approved bool) error {
	// Decided from the mode, which the digest covers; the Approximate flag
	// is not covered and could be edited out of a planfile.
	if p.IsApproximate() {
		how := "computed with --diff=local, without the server"
		if p.Mode != plan.DiffLocal {
			how = fmt.Sprintf("its mode %q is not one whose changes the server verified", p.Mode)
		}
		return fmt.Errorf("%w (%s): plan again with --diff=auto or server to apply", ErrApproximate, how)
	}
	if failures := plan.KnownFailures(p); len(failures) > 0 {
		return &KnownFailuresError{Failures: failures}
	}
	if len(p.Destructive) > 0 && !approved {
		return fmt.Errorf("%w: it %s; a person must approve it", ErrNotApproved, strings.Join(p.Destructive, "; "))
	}
	return nil
}

// Result is what happened to one object.
type Result string

// Results. Stored: stable values.
const (
	ResultApplied  Result = "applied"  // created or updated
	ResultReplaced Result = "replaced" // deleted and created
	ResultDeleted  Result = "deleted"  // pruned
	ResultFailed   Result = "failed"
	ResultSkipped  Result = "skipped" // not attempted: an earlier failure, an interruption
	ResultKept     Result = "kept"    // a prune candidate left alone
	// ResultTerminating: the delete was accepted, but finalizers hold the
	// object; it stays in the inventory, and the next plan deletes it again.
	ResultTerminating Result = "terminating"
)

// Outcome is what the apply did to one change of the plan.
type Outcome struct {
	// Ref is the change's (for a hook the server names, its generateName
	// followed by object.GeneratedMark; Live has the name it was given).
	Ref        object.Ref
	APIVersion string
	Action     plan.Action
	Result     Result
	// Err is why it failed.
	Err error
	// Ready is the object's kstatus after the apply ("Current", ...), when
	// waited for.
	Ready string
	// Duration of the object's requests.
	Duration time.Duration
	// Live is the object as the apply stored it (nil unless applied).
	Live *unstructured.Unstructured
	// Hook is set for a hook's run: never kept in the inventory or the
	// memo.
	Hook bool
}

// Report is the result of an apply.
type Report struct {
	// Outcomes has one entry per change of the plan that was not a noop, in
	// plan order.
	Outcomes []Outcome
	// Interrupted is set when the context ended before the apply did.
	Interrupted bool
	// Pruned is set when the prune phase ran.
	Pruned bool
}

// Summary counts outcomes as Terraform does: replaced counts as added and
// destroyed.
func (r *Report) Summary() (added, changed, destroyed int) {
	for _, o := range r.Outcomes {
		switch {
		case o.Result == ResultApplied && o.Action == plan.ActionCreate:
			added++
		case o.Result == ResultApplied:
			changed++
		case o.Result == ResultReplaced:
			added++
			destroyed++
		case o.Result == ResultDeleted:
			destroyed++
		}
	}
	return added, changed, destroyed
}

// Failed returns the outcomes that failed.
func (r *Report) Failed() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if o.Result == ResultFailed {
			out = append(out, o)
		}
	}
	return out
}

// EventKind is a step of an object's progress.
type EventKind string

// Event kinds.
const (
	EventStarted  EventKind = "started"
	EventDone     EventKind = "done"
	EventFailed   EventKind = "failed"
	EventWaiting  EventKind = "waiting" // for readiness; Ref is empty, Message counts
	EventReady    EventKind = "ready"
	EventNotReady EventKind = "not-ready"
)

// Event reports progress, for progress lines.
type Event struct {
	Kind     EventKind
	Ref      object.Ref
	Action   plan.Action
	Duration time.Duration
	Err      error
	Message  string
}

func (a *Applier) emit(e Event) {
	if a.opts.OnEvent != nil {
		a.opts.OnEvent(e)
	}
}

package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/crash"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/sensitive"
)

// Phases, in apply order. Prune runs them in reverse.
const (
	phaseNamespaces = iota
	phaseCRDs
	phaseClusterRBAC
	phaseRest
	phases
)

// phaseOf places a kind in its phase.
func phaseOf(ref object.Ref) int {
	switch {
	case ref.Group == "" && ref.Kind == "Namespace":
		return phaseNamespaces
	case ref.Group == "apiextensions.k8s.io" && ref.Kind == "CustomResourceDefinition":
		return phaseCRDs
	case ref.Group == "rbac.authorization.k8s.io" && (ref.Kind == "ClusterRole" || ref.Kind == "ClusterRoleBinding"):
		return phaseClusterRBAC
	}
	return phaseRest
}

// ErrNotReady is returned (wrapped) when applied objects did not become ready
// within the timeout; prune is then skipped.
var ErrNotReady = errors.New("objects did not become ready")

// item is one change to carry out.
type item struct {
	index   int // in Report.Outcomes
	change  plan.Change
	desired *unstructured.Unstructured // nil for a delete
}

// Execute applies a plan that Check accepted and returns what happened to
// each object. It stops at the end of the phase in which an object failed,
// skips prune unless every other change succeeded (and, with Wait, became
// ready), and marks the report interrupted when ctx ends first. Objects
// the server could not check at plan time are dry-run as soon as they can
// be (checkpoints): one refused stops the apply before any change of a
// later phase.
func (a *Applier) Execute(ctx context.Context, p *plan.Plan) (*Report, error) {
	r := &Report{}
	byPhase, prunes, hooks := sortItems(p, r)

	checks := checkpoints(p, byPhase)
	for ph := range phases {
		if err := a.runPhase(ctx, p, r, byPhase[ph], func(ctx context.Context, it item) Outcome { return a.applyOne(ctx, p, it) }); err != nil {
			return r, err
		}
		if ph == phaseCRDs && len(byPhase[ph]) > 0 {
			if err := a.waitReady(ctx, r, byPhase[ph], true); err != nil {
				return r, fmt.Errorf("CustomResourceDefinitions not established: %w", err)
			}
		}
		if err := a.verifyPending(ctx, p, r, checks[ph]); err != nil {
			return r, err
		}
		if ph == phaseCRDs { // after the checks the CRDs made possible: a refusal runs no hook
			if err := a.runHooks(ctx, p, r, hooks[plan.HookPre]); err != nil {
				return r, err
			}
		}
	}
	if a.opts.Wait {
		var applied []item
		for _, ph := range byPhase {
			applied = append(applied, ph...)
		}
		if err := a.waitReady(ctx, r, applied, false); err != nil {
			return r, err
		}
	}
	if err := a.runHooks(ctx, p, r, hooks[plan.HookPost]); err != nil {
		return r, err
	}
	for ph := phases - 1; ph >= 0; ph-- {
		r.Pruned = true
		if err := a.runPhase(ctx, p, r, prunes[ph], func(ctx context.Context, it item) Outcome { return a.pruneOne(ctx, p, it) }); err != nil {
			return r, err
		}
	}
	return r, nil
}

// sortItems makes an item of every change of p that does something, its
// outcome skipped until it is carried out, and sorts them into the phases
// of applies and of prunes, and the hook phases.
func sortItems(p *plan.Plan, r *Report) (byPhase, prunes [phases][]item, hooks map[plan.HookPhase][]item) {
	desired := make(map[object.Ref]*unstructured.Unstructured, len(p.Desired))
	for _, u := range p.Desired {
		desired[object.RefOf(u)] = u
	}
	hooks = map[plan.HookPhase][]item{}
	for _, c := range p.Changes {
		if c.Action == plan.ActionNoop {
			continue
		}
		it := item{index: len(r.Outcomes), change: c, desired: desired[c.Ref]}
		r.Outcomes = append(r.Outcomes, Outcome{Ref: c.Ref, APIVersion: c.APIVersion, Action: c.Action, Result: ResultSkipped, Hook: c.Hook != nil})
		switch {
		case c.Hook != nil:
			hooks[c.Hook.Phase] = append(hooks[c.Hook.Phase], it)
		case c.Action == plan.ActionDelete:
			prunes[phaseOf(c.Ref)] = append(prunes[phaseOf(c.Ref)], it)
		default:
			byPhase[phaseOf(c.Ref)] = append(byPhase[phaseOf(c.Ref)], it)
		}
	}
	return byPhase, prunes, hooks
}

// runPhase carries out items of p concurrently, records their outcomes, and
// returns an error naming every failure, or the interruption.
func (a *Applier) runPhase(ctx context.Context, p *plan.Plan, r *Report, items []item, do func(context.Context, item) Outcome) error {
	var mu sync.Mutex
	a.forEach(ctx, items, func(it item) {
		// A panic carrying out one object (a bug some content reached)
		// fails that object, not the process. Its value may quote what it
		// panicked on: scrubbed like every other error.
		var o Outcome
		if err := crash.Catch(func() error { o = do(ctx, it); return nil }); err != nil {
			o = a.failed(it.outcome(), time.Now(), scrub(p, err))
		}
		a.settle(r, &mu, it, o)
	})
	if ctx.Err() != nil {
		r.Interrupted = true
		done := 0
		for _, o := range r.Outcomes {
			if o.Result != ResultSkipped && o.Result != ResultFailed {
				done++
			}
		}
		return fmt.Errorf("apply interrupted after %d of %d objects: %w", done, len(r.Outcomes), ctx.Err())
	}
	var failures []string
	for _, it := range items {
		if o := r.Outcomes[it.index]; o.Result == ResultFailed {
			failures = append(failures, fmt.Sprintf("%s: %v", o.Ref, o.Err))
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d object(s) failed, later phases and prune skipped:\n  %s", len(failures), strings.Join(failures, "\n  "))
	}
	return nil
}

// forEach calls f for each item, at most Concurrency at once; an item not
// started when ctx ends is not started (its outcome stays skipped).
func (a *Applier) forEach(ctx context.Context, items []item, f func(item)) {
	g := new(errgroup.Group)
	g.SetLimit(a.opts.Concurrency)
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { f(it); return nil })
	}
	_ = g.Wait()
}

// settle makes o the outcome of it in r (under mu), and reports it.
func (a *Applier) settle(r *Report, mu *sync.Mutex, it item, o Outcome) {
	mu.Lock()
	r.Outcomes[it.index] = o
	mu.Unlock()
	if a.opts.OnOutcome != nil {
		a.opts.OnOutcome(o)
	}
}

// outcome is it's outcome before it is carried out.
func (it item) outcome() Outcome {
	return Outcome{Ref: it.change.Ref, APIVersion: it.change.APIVersion, Action: it.change.Action, Hook: it.change.Hook != nil}
}

// applyOne applies (or replaces) one object.
func (a *Applier) applyOne(ctx context.Context, p *plan.Plan, it item) Outcome {
	o := it.outcome()
	a.emit(Event{Kind: EventStarted, Ref: o.Ref, Action: o.Action})
	start := time.Now()
	fail := func(err error) Outcome { return a.failed(o, start, scrub(p, err)) }
	if it.desired == nil {
		return fail(errors.New("the plan has no manifest for it: the planfile is damaged"))
	}
	if it.change.Owner != "" {
		return fail(fmt.Errorf("it belongs to stack %q (its %s label), not %q: two stacks render it; remove it from one of them, or relabel it (%s=%s) to move it deliberately",
			it.change.Owner, plan.StackLabel, p.Stack, plan.StackLabel, p.Stack))
	}
	res, err := a.cluster.Resource(it.desired.GroupVersionKind())
	if err != nil {
		return fail(err)
	}
	if err := a.fence(ctx); err != nil {
		return fail(err)
	}
	o.Result = ResultApplied
	if it.change.Action == plan.ActionReplace {
		if err := a.deleteAndWait(ctx, res, o.Ref); err != nil {
			return fail(err)
		}
		o.Result = ResultReplaced
	}
	live, err := a.cluster.Apply(ctx, res, it.desired, p.Options.ForceConflicts)
	if err != nil {
		return fail(describe(p, o.Ref, err))
	}
	o.Live, o.Duration = live, time.Since(start)
	a.emit(Event{Kind: EventDone, Ref: o.Ref, Action: o.Action, Duration: o.Duration})
	return o
}

// deleteAndWait deletes an object in the foreground (its dependents first)
// and waits until it is gone, for a replace.
func (a *Applier) deleteAndWait(ctx context.Context, res object.Resource, ref object.Ref) error {
	if err := a.cluster.Delete(ctx, res, ref, metav1.DeletePropagationForeground); err != nil {
		return fmt.Errorf("delete for replace: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
	defer cancel()
	for {
		_, err := a.cluster.Get(ctx, res, ref)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still deleting after %s, for replace: %w", a.opts.Timeout, ctx.Err())
		case <-time.After(a.opts.PollInterval / 2):
		}
	}
}

// pruneOne deletes one object the revision no longer renders, unless it
// changed hands since the plan (no longer labelled for the stack, or
// protected), which it then keeps.
func (a *Applier) pruneOne(ctx context.Context, p *plan.Plan, it item) Outcome {
	o := Outcome{Ref: it.change.Ref, APIVersion: it.change.APIVersion, Action: plan.ActionDelete}
	a.emit(Event{Kind: EventStarted, Ref: o.Ref, Action: o.Action})
	start := time.Now()
	fail := func(err error) Outcome { return a.failed(o, start, scrub(p, err)) }
	gv, err := schemaGroupVersion(o.APIVersion)
	if err != nil {
		return fail(err)
	}
	res, err := a.cluster.Resource(gv.WithKind(o.Ref.Kind))
	if err != nil {
		return fail(err)
	}
	live, err := a.cluster.Get(ctx, res, o.Ref)
	switch {
	case apierrors.IsNotFound(err):
		o.Result, o.Duration = ResultDeleted, time.Since(start)
		a.emit(Event{Kind: EventDone, Ref: o.Ref, Action: o.Action, Duration: o.Duration})
		return o
	case err != nil:
		return fail(err)
	case live.GetLabels()[plan.StackLabel] != p.Stack || live.GetAnnotations()[plan.PruneAnnotation] == "disabled":
		o.Result, o.Duration = ResultKept, time.Since(start)
		a.emit(Event{Kind: EventDone, Ref: o.Ref, Action: plan.ActionNoop, Duration: o.Duration, Message: "kept: no longer this stack's to delete"})
		return o
	}
	if err := a.fence(ctx); err != nil {
		return fail(err)
	}
	if err := a.cluster.Delete(ctx, res, o.Ref, metav1.DeletePropagationBackground); err != nil {
		return fail(fmt.Errorf("delete %s: %w", o.Ref, describe(p, o.Ref, err)))
	}
	// Without finalizers a background delete removes the object at once;
	// one still there is held by its finalizers.
	o.Result = ResultDeleted
	msg := ""
	if after, err := a.cluster.Get(ctx, res, o.Ref); err == nil {
		o.Result = ResultTerminating
		msg = fmt.Sprintf("deletion accepted, held by finalizers %s: kept in the inventory, deleted again by the next plan", strings.Join(after.GetFinalizers(), ", "))
	} else if !apierrors.IsNotFound(err) {
		return fail(fmt.Errorf("%s: deleted, but reading it back failed: %w", o.Ref, err))
	}
	o.Duration = time.Since(start)
	a.emit(Event{Kind: EventDone, Ref: o.Ref, Action: o.Action, Duration: o.Duration, Message: msg})
	return o
}

// failed completes o as failed with err, and reports it. Callers pass err
// through an sensitive.Scrubber of the plan's Secrets first: outcomes are
// shown, logged and recorded.
func (a *Applier) failed(o Outcome, start time.Time, err error) Outcome {
	o.Result, o.Err, o.Duration = ResultFailed, err, time.Since(start)
	a.emit(Event{Kind: EventFailed, Ref: o.Ref, Action: o.Action, Duration: o.Duration, Err: err})
	return o
}

// describe keeps the server's message, except for objects that may hold
// sensitive content under the plan's policy (a Secret, or a kind the stack
// declares sensitive fields of), whose messages may quote values
// (plan.WithheldStatus).
func describe(p *plan.Plan, ref object.Ref, err error) error {
	var se *apierrors.StatusError
	if !sensitive.Of(p.Options.Sensitive).Covers(ref) || !errors.As(err, &se) {
		return err
	}
	return errors.New(plan.WithheldStatus(se))
}

// scrub removes from err's text every sensitive value of the plan's desired
// objects, under the plan's policy: outcomes are shown, logged and
// recorded.
func scrub(p *plan.Plan, err error) error {
	return sensitive.Of(p.Options.Sensitive).ScrubError(err, p.Desired...)
}

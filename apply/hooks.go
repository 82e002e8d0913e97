package apply

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// hookOrder orders a phase's hooks as Helm runs them: by weight, then in
// the phase order of their kinds, then by ref.
func hookOrder(a, b item) int {
	return cmp.Or(cmp.Compare(a.change.Hook.Weight, b.change.Hook.Weight),
		cmp.Compare(phaseOf(a.change.Ref), phaseOf(b.change.Ref)), object.Compare(a.change.Ref, b.change.Ref))
}

// runHooks runs a phase's hooks one at a time, in hookOrder: each is
// deleted first when its policy says so (before-hook-creation, the
// default), created, waited for (with Wait: a Job until it completes,
// anything else until it is ready), then deleted when its policy says so
// for how it ended. The first hook that fails stops the apply: no later
// hook, object or prune.
func (a *Applier) runHooks(ctx context.Context, p *plan.Plan, r *Report, hooks []item) error {
	slices.SortStableFunc(hooks, hookOrder)
	var mu sync.Mutex
	for _, it := range hooks {
		o, err := a.runHook(ctx, p, r, it)
		a.settle(r, &mu, it, o)
		if err != nil {
			if ctx.Err() != nil {
				r.Interrupted = true
			}
			return fmt.Errorf("%s hook %s failed, later hooks, objects and prune skipped: %w", it.change.Hook.Phase, it.change.Ref, err)
		}
	}
	return nil
}

// runHook runs one hook and returns its outcome. A hook the server names
// (metadata.generateName) is created rather than applied; its outcome
// keeps the plan's ref, its Live (and its done event) the name this run
// was given.
func (a *Applier) runHook(ctx context.Context, p *plan.Plan, r *Report, it item) (Outcome, error) {
	h, o := *it.change.Hook, it.outcome()
	a.emit(Event{Kind: EventStarted, Ref: o.Ref, Action: o.Action, Message: fmt.Sprintf("%s hook (%s)", h.Phase, h.Event)})
	start := time.Now()
	fail := func(err error) (Outcome, error) {
		err = scrub(p, err)
		return a.failed(o, start, err), err
	}
	if it.desired == nil {
		return fail(fmt.Errorf("the plan has no manifest for it: the planfile is damaged"))
	}
	res, err := a.cluster.Resource(it.desired.GroupVersionKind())
	if err != nil {
		return fail(err)
	}
	if err := a.fence(ctx); err != nil {
		return fail(err)
	}
	prefix, generated := o.Ref.Generated()
	if h.Deletes(plan.DeleteBeforeCreation) {
		if err := a.deleteLastRuns(ctx, p, res, o.Ref, prefix, generated); err != nil {
			return fail(err)
		}
	}
	live, err := a.startRun(ctx, p, res, it.desired, generated)
	if err != nil {
		return fail(describe(p, o.Ref, err))
	}
	o.Result, o.Live = ResultApplied, live
	run := object.RefOf(live) // a generated hook's: the name the server gave this run
	if a.opts.Wait {
		r.Outcomes[it.index] = o
		err = a.waitReady(ctx, r, []item{it}, true)
		o = r.Outcomes[it.index]
	}
	policy := plan.DeleteOnSuccess
	if err != nil {
		policy = plan.DeleteOnFailure
	}
	// Not waited for (--wait=false), a hook is not known to have succeeded
	// or failed: it is left to run, and its next run deletes it first.
	if (a.opts.Wait || err != nil) && h.Deletes(policy) {
		if derr := a.cluster.Delete(ctx, res, run, metav1.DeletePropagationBackground); derr != nil && err == nil {
			err = fmt.Errorf("delete it after it succeeded: %w", derr)
		}
	}
	if err != nil {
		return fail(err)
	}
	o.Duration = time.Since(start)
	done := Event{Kind: EventDone, Ref: o.Ref, Action: o.Action, Duration: o.Duration}
	if generated {
		done.Message = "created as " + run.Name
	}
	a.emit(done)
	return o, nil
}

// startRun makes the hook's run: created, for a hook the server names
// (server-side apply needs a name), else applied.
func (a *Applier) startRun(ctx context.Context, p *plan.Plan, res object.Resource, desired *unstructured.Unstructured, generated bool) (*unstructured.Unstructured, error) {
	if generated {
		return a.cluster.Create(ctx, res, desired)
	}
	return a.cluster.Apply(ctx, res, desired, p.Options.ForceConflicts)
}

// deleteLastRuns deletes the hook's last run before it runs again
// (before-hook-creation): the object of its name, or for a hook the server
// names (generated) every object of its kind in its namespace that this
// stack's hook of the same generateName made, found by the stack's label
// and the generateName the server keeps.
func (a *Applier) deleteLastRuns(ctx context.Context, p *plan.Plan, res object.Resource, ref object.Ref, prefix string, generated bool) error {
	if !generated {
		if err := a.ownLastRun(ctx, p, res, ref); err != nil {
			return err
		}
		if err := a.deleteAndWait(ctx, res, ref); err != nil {
			return fmt.Errorf("delete the last run: %w", err)
		}
		return nil
	}
	live, err := a.cluster.List(ctx, res, ref.Namespace)
	if err != nil {
		return fmt.Errorf("find the last runs: %w", err)
	}
	for _, u := range live {
		if u.GetGenerateName() != prefix || u.GetLabels()[plan.StackLabel] != p.Stack || !plan.IsHook(u) {
			continue
		}
		if err := a.deleteAndWait(ctx, res, object.RefOf(u)); err != nil {
			return fmt.Errorf("delete the last run %s: %w", u.GetName(), err)
		}
	}
	return nil
}

// ownLastRun refuses to delete an object of the hook's name that lives
// without the stack's label (another stack's, or nobody's): the plan
// refused those it saw (plan.hookRisk); one made since is refused here.
func (a *Applier) ownLastRun(ctx context.Context, p *plan.Plan, res object.Resource, ref object.Ref) error {
	live, err := a.cluster.Get(ctx, res, ref)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	if owner := live.GetLabels()[plan.StackLabel]; owner != p.Stack {
		return fmt.Errorf("an object of the hook's name is live that stack %s does not own (its %s label is %q): not deleting it; rename the hook, or relabel the object deliberately", p.Stack, plan.StackLabel, owner)
	}
	return nil
}

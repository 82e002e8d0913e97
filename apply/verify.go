package apply

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/internal/crash"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// checkpoints says which changes the server must check during the apply,
// and after which phase: the objects it could not check when planning
// (plan.Change.VerifiedAtApply: their Namespace or CRD is created by the
// plan), and the objects of kinds whose CRD the apply changes (planned
// against the CRD as it was). Each is checked right after the phase that
// makes it checkable: the CRD phase for a kind a CRD of the plan defines,
// else the Namespace phase. Checked before any change of a later phase,
// an object the server refuses stops the apply with nothing else changed.
// Pure: it reads the plan and its items by phase.
func checkpoints(p *plan.Plan, byPhase [phases][]item) [phases][]item {
	defined, changed := map[schema.GroupKind]bool{}, map[schema.GroupKind]bool{}
	for _, u := range p.Desired {
		if gk, ok := object.CRDKind(u); ok {
			defined[gk] = true
		}
	}
	for _, it := range byPhase[phaseCRDs] {
		if it.desired != nil {
			if gk, ok := object.CRDKind(it.desired); ok {
				changed[gk] = true
			}
		}
	}
	var out [phases][]item
	for ph := phaseCRDs + 1; ph < phases; ph++ {
		for _, it := range byPhase[ph] {
			gk := it.change.Ref.GroupKind()
			if it.desired == nil || (it.change.VerifiedAtApply == "" && !changed[gk]) {
				continue
			}
			at := phaseNamespaces
			if defined[gk] {
				at = phaseCRDs
			}
			out[at] = append(out[at], it)
		}
	}
	return out
}

// verifyPending dry-runs items (checkpoints of the phase just applied) and,
// if the server refuses any, records them failed and returns an error
// naming them and what the apply already made; the caller stops there.
// Items the server accepts stay as they are, to be applied in their phase.
func (a *Applier) verifyPending(ctx context.Context, p *plan.Plan, r *Report, items []item) error {
	if len(items) == 0 {
		return nil
	}
	var mu sync.Mutex
	a.forEach(ctx, items, func(it item) {
		start := time.Now()
		err := crash.Catch(func() error { return a.dryRun(ctx, p, it) })
		if err != nil && ctx.Err() == nil {
			a.settle(r, &mu, it, a.failed(it.outcome(), start, scrub(p, err)))
		}
	})
	if ctx.Err() != nil {
		r.Interrupted = true
		return fmt.Errorf("apply interrupted while checking objects the plan could not: %w", ctx.Err())
	}
	var failures []string
	for _, it := range items {
		if o := r.Outcomes[it.index]; o.Result == ResultFailed {
			failures = append(failures, fmt.Sprintf("%s: %v", o.Ref, o.Err))
		}
	}
	if len(failures) == 0 {
		return nil
	}
	return fmt.Errorf("%d object(s) that could not be checked at plan time were refused by the server's dry-run, so the apply stopped before any other change (later phases and prune skipped); already made: %s; fix these in the source and plan again:\n  %s",
		len(failures), made(r), strings.Join(failures, "\n  "))
}

// dryRun asks the server whether it accepts the object of it now.
func (a *Applier) dryRun(ctx context.Context, p *plan.Plan, it item) error {
	why := it.change.VerifiedAtApply
	if why == "" {
		why = "its CustomResourceDefinition is changed by this plan"
	}
	res, err := a.cluster.Resource(it.desired.GroupVersionKind())
	if err == nil {
		_, err = a.cluster.DryRunApply(ctx, res, it.desired, p.Options.ForceConflicts)
	}
	if err != nil {
		return fmt.Errorf("the server refuses it (%s, so it was dry-run during the apply): %w", why, describe(p, it.change.Ref, err))
	}
	return nil
}

// made lists the objects the apply changed so far, or says there are none.
func made(r *Report) string {
	var refs []string
	for _, o := range r.Outcomes {
		if o.Result == ResultApplied || o.Result == ResultReplaced {
			refs = append(refs, o.Ref.String())
		}
	}
	if len(refs) == 0 {
		return "nothing"
	}
	return strings.Join(refs, ", ")
}

package plan

import (
	"errors"
	"fmt"

	"slices"
	"strconv"
	"strings"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/ssa"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Helm's hook annotations, which gantry honours in objects of any source
// (as Argo CD does): a chart's hooks keep them when it is rendered.
const (
	HookAnnotation       = object.HookAnnotation
	HookWeightAnnotation = "helm.sh/hook-weight"
	HookDeleteAnnotation = "helm.sh/hook-delete-policy"
)

// HookPhase is when a hook runs in an apply.
type HookPhase string

// Hook phases.
const (
	// HookPre runs after the stack's Namespaces and CRDs, before its other
	// objects (Helm's pre-install and pre-upgrade).
	HookPre HookPhase = "pre"
	// HookPost runs after every other object is applied (and ready, when
	// the apply waits), before prune (post-install, post-upgrade).
	HookPost HookPhase = "post"
)

// Hook delete policies (helm.sh/hook-delete-policy).
const (
	DeleteBeforeCreation = "before-hook-creation"
	DeleteOnSuccess      = "hook-succeeded"
	DeleteOnFailure      = "hook-failed"
)

// Hook is how a hook object runs in a plan: in which phase, for which of
// its events, in what order, and when it is deleted.
type Hook struct {
	Phase HookPhase `json:"phase"`
	// Event is the event it runs for: pre-install, post-upgrade, …
	Event string `json:"event"`
	// Weight orders the hooks of a phase (lower first).
	Weight int `json:"weight,omitempty"`
	// DeletePolicies, as annotated; none means before-hook-creation,
	// Helm's default.
	DeletePolicies []string `json:"delete_policies,omitempty"`
}

// Deletes reports whether the hook is deleted at policy (a Delete* const).
func (h Hook) Deletes(policy string) bool {
	if len(h.DeletePolicies) == 0 {
		return policy == DeleteBeforeCreation
	}
	return slices.Contains(h.DeletePolicies, policy)
}

// HookSpec is what a hook object's annotations say.
type HookSpec struct {
	Events         []string
	Weight         int
	DeletePolicies []string
}

// hookEvents are the events gantry knows; those it runs are in runsFor.
var hookEvents = []string{"pre-install", "post-install", "pre-upgrade", "post-upgrade", "pre-delete", "post-delete", "pre-rollback", "post-rollback", "test", "test-success"}

// HookSpecOf reads u's hook annotations: whether it is a hook, and what
// they say; an event, weight or policy Helm would not read is an error
// naming the annotation.
func HookSpecOf(u *unstructured.Unstructured) (HookSpec, bool, error) {
	ann := u.GetAnnotations()
	events, ok := ann[HookAnnotation]
	if !ok {
		return HookSpec{}, false, nil
	}
	var s HookSpec
	for _, e := range strings.Split(events, ",") {
		e = strings.TrimSpace(e)
		if !slices.Contains(hookEvents, e) {
			return s, true, fmt.Errorf("annotation %s: %q is not a hook event Helm knows (%s)", HookAnnotation, e, strings.Join(hookEvents, ", "))
		}
		s.Events = append(s.Events, e)
	}
	if w, ok := ann[HookWeightAnnotation]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil {
			return s, true, fmt.Errorf("annotation %s: %q is not a whole number", HookWeightAnnotation, w)
		}
		s.Weight = n
	}
	if p, ok := ann[HookDeleteAnnotation]; ok {
		for _, policy := range strings.Split(p, ",") {
			policy = strings.TrimSpace(policy)
			if policy != DeleteBeforeCreation && policy != DeleteOnSuccess && policy != DeleteOnFailure {
				return s, true, fmt.Errorf("annotation %s: %q is not a delete policy (%s, %s, %s)", HookDeleteAnnotation, policy, DeleteBeforeCreation, DeleteOnSuccess, DeleteOnFailure)
			}
			s.DeletePolicies = append(s.DeletePolicies, policy)
		}
	}
	return s, true, nil
}

// runsFor maps the operation of an apply to the events that run in it:
// install is the stack's first apply (an empty inventory), upgrade any
// other. gantry never uninstalls, and a restore is an upgrade to an older
// revision, so delete, rollback and test hooks never run.
var runsFor = map[bool]map[string]HookPhase{
	true:  {"pre-install": HookPre, "post-install": HookPost},
	false: {"pre-upgrade": HookPre, "post-upgrade": HookPost},
}

// Run returns how the hook runs in an install (or an upgrade): its phase and
// the event it runs for, or false when none of its events runs then. A hook
// with both a pre and a post event for the operation runs in the pre phase
// (as Helm would run it twice, gantry once: a hook object has one life per
// apply).
func (s HookSpec) Run(install bool) (Hook, bool) {
	var found *Hook
	for _, e := range s.Events {
		phase, ok := runsFor[install][e]
		if !ok || (found != nil && found.Phase == HookPre) {
			continue
		}
		found = &Hook{Phase: phase, Event: e, Weight: s.Weight, DeletePolicies: s.DeletePolicies}
	}
	if found == nil {
		return Hook{}, false
	}
	return *found, true
}

// IsHook reports whether u is a hook object (helm.sh/hook annotated).
func IsHook(u *unstructured.Unstructured) bool {
	_, ok := u.GetAnnotations()[HookAnnotation]
	return ok
}

// splitHooks separates hook objects from the others, keeping the order.
func splitHooks(all []*desiredObject) (regular, hooks []*desiredObject) {
	for _, d := range all {
		if d.hook != nil {
			hooks = append(hooks, d)
		} else {
			regular = append(regular, d)
		}
	}
	return regular, hooks
}

// hookChanges are the runs of the hooks whose events this apply fires: a
// hook is created anew in its phase at every apply that changes something,
// never compared with the cluster (it runs, it does not converge), never in
// the memo or the inventory, so never pruned. A hook named by
// metadata.generateName gets a new name from the server at each run (its
// ref ends in object.GeneratedMark). Its view is masked like any
// object's. A hook that would delete what it must not is refused (hookRisk).
func (r *run) hookChanges() ([]Change, error) {
	install := r.installing()
	var out []Change
	var errs []error
	for _, d := range r.hooks {
		h, ok := d.hook.Run(install)
		if !ok {
			continue
		}
		if err := r.hookRisk(d); err != nil {
			errs = append(errs, err)
			continue
		}
		ch := Change{Ref: d.ref, APIVersion: d.obj.GetAPIVersion(), Action: ActionCreate, Hook: &h,
			Reason: fmt.Sprintf("runs as a %s hook (%s)", h.Phase, h.Event)}
		if prefix, ok := d.ref.Generated(); ok {
			ch.Reason += fmt.Sprintf(", created under a name the server generates (%s…)", prefix)
		}
		_, ch.After, ch.Diff = ssa.Masked(r.policy, d.ref, nil, ssa.StripServerFields(d.obj))
		out = append(out, ch)
	}
	return out, errors.Join(errs...)
}

// installing reports whether this apply is the stack's install: nothing of
// it applied before (an empty inventory) and none of its objects live
// already (a release first installed by helm, adopted, is upgraded: its
// install hooks ran long ago).
func (r *run) installing() bool {
	if len(r.in.Inventory) > 0 {
		return false
	}
	return !slices.ContainsFunc(r.desired, func(d *desiredObject) bool { return r.live[d.ref] != nil })
}

// unhookable are kinds a hook may not be: running a hook deletes the last
// run's object, and deleting one of these deletes what lives in it.
var unhookable = []schema.GroupKind{{Kind: "Namespace"}, {Kind: "PersistentVolume"}, {Kind: "PersistentVolumeClaim"}, crdKind}

// hookRisk refuses a hook that could delete what is not its own: one of
// the unhookable kinds, or an object of its name that lives without this
// stack's label (another stack's, or nobody's), which its run would delete.
func (r *run) hookRisk(d *desiredObject) error {
	if slices.Contains(unhookable, d.ref.GroupKind()) {
		return fmt.Errorf("%s is a hook (%s): a hook's run deletes its last object first, and deleting a %s deletes what lives in it; make it an ordinary object (remove %s)",
			d.ref, HookAnnotation, d.ref.Kind, HookAnnotation)
	}
	live := r.live[d.ref]
	if live == nil {
		return nil
	}
	if owner := live.GetLabels()[StackLabel]; owner != r.in.Stack {
		return fmt.Errorf("%s is a hook, and an object of that name is live that stack %s does not own (its %s label is %q): running the hook would delete it; rename the hook, or relabel the object deliberately",
			d.ref, r.in.Stack, StackLabel, owner)
	}
	return nil
}

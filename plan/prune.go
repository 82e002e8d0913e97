package plan

import (
	"fmt"
	"slices"

	"github.com/gantryops/gantry/plan/ssa"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// pruneCandidates returns the inventory objects the revision no longer renders.
func (r *run) pruneCandidates() []InventoryObject {
	desired := make(map[ObjectRef]bool, len(r.desired)+len(r.hooks))
	for _, d := range slices.Concat(r.desired, r.hooks) {
		desired[d.ref] = true // an object turned hook runs: it is not pruned
	}
	var out []InventoryObject
	for _, o := range r.in.Inventory {
		if !desired[o.Ref] {
			out = append(out, o)
		}
	}
	return out
}

// prune plans the deletion of inventory objects no longer rendered that still
// exist and still carry this stack's label; the others it keeps, saying why.
func (r *run) prune() []Change {
	var out []Change
	for _, o := range r.pruneCandidates() {
		live := r.live[o.Ref]
		if live == nil {
			continue // already gone: nothing to do
		}
		ch := Change{Ref: o.Ref, APIVersion: o.APIVersion, Action: ActionNoop}
		switch {
		case !r.in.Options.Prune:
			ch.Reason = "no longer rendered; kept because prune is off for this stack"
		case live.GetLabels()[StackLabel] != r.in.Stack:
			ch.Reason = fmt.Sprintf("no longer rendered; kept because it is not labelled %s=%s (someone else took it over)", StackLabel, r.in.Stack)
		case live.GetAnnotations()[PruneAnnotation] == "disabled":
			ch.Reason = fmt.Sprintf("no longer rendered; kept because it is annotated %s: disabled", PruneAnnotation)
		default:
			ch.Action = ActionDelete
			ch.Reason = "no longer rendered by the revision"
			view, err := ssa.OwnedView(live)
			if err != nil {
				view = ssa.StripServerFields(live)
			}
			ch.Before, _, ch.Diff = ssa.Masked(r.policy, o.Ref, view, nil)
		}
		out = append(out, ch)
	}
	return out
}

// destructiveKinds lose data or take other objects with them when deleted.
var destructiveKinds = []schema.GroupKind{
	{Kind: "Namespace"},
	{Kind: "PersistentVolumeClaim"},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"},
}

// destructiveReasons says why a plan needs approval: it deletes (or
// replaces) a Namespace, CRD or PersistentVolumeClaim, deletes more than
// MaxPrunePercent of the inventory, or prunes because the revision is empty.
func destructiveReasons(p *Plan, inventorySize int) []string {
	var reasons []string
	deletes := 0
	for _, c := range p.Changes {
		if c.Action != ActionDelete && c.Action != ActionReplace {
			continue
		}
		if c.Action == ActionDelete {
			deletes++
		}
		if slices.Contains(destructiveKinds, c.Ref.GroupKind()) {
			verb := "deletes"
			if c.Action == ActionReplace {
				verb = "replaces (deletes and recreates)"
			}
			reasons = append(reasons, fmt.Sprintf("%s %s", verb, c.Ref))
		}
	}
	if deletes > 0 && len(p.Desired) == 0 {
		reasons = append(reasons, fmt.Sprintf("the revision renders no objects: it deletes all %d objects of the stack", deletes))
	}
	if inventorySize > 0 && deletes*100 > p.Options.MaxPrunePercent*inventorySize {
		reasons = append(reasons, fmt.Sprintf("deletes %d of %d inventory objects (%d%%), more than maxPrunePercent %d%%",
			deletes, inventorySize, deletes*100/inventorySize, p.Options.MaxPrunePercent))
	}
	return reasons
}

package harness

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/ssa"
	"github.com/gantryops/gantry/stack"
)

// FidelityCase is a revision whose plans are checked in four situations.
type FidelityCase struct {
	// Name names the stack (a DNS label).
	Name string
	// Objects is the rendered revision.
	Objects []*unstructured.Unstructured
	// Namespace is the stack's target namespace, if any.
	Namespace string
	// Edit changes live objects out of band as another field manager would
	// (kubectl edit). Default: EditLabels on the first three labelled objects.
	Edit func(t testing.TB, s *Stack)
	// EditIsNoop says the edit touches nothing gantry owns (e.g. an HPA
	// scaling replicas gantry does not set), so the plan after it is empty.
	EditIsNoop bool
	// Change edits the revision as a Git commit would. Default: an
	// annotation on the first three objects.
	Change func(objs []*unstructured.Unstructured)
	// Applied, if set, checks the report of the first apply.
	Applied func(t *testing.T, r *apply.Report)
}

// CheckFidelity plans c with --diff=auto and --diff=server in four
// situations and requires the two plans to be equal in each: an empty
// cluster (all creates), right after applying (all noop), after an
// out-of-band edit by a second field manager, and after a Git change.
func (e *Env) CheckFidelity(t *testing.T, c FidelityCase) {
	s := e.NewStack(t, stack.Stack{Name: c.Name, Target: stack.Target{Namespace: c.Namespace}, Prune: true})
	both := func(situation string, objs []*unstructured.Unstructured) *plan.Plan {
		t.Helper()
		auto := s.Plan(t, objs, plan.DiffAuto)
		server := s.Plan(t, objs, plan.DiffServer)
		if diff := cmp.Diff(Shape(server), Shape(auto)); diff != "" {
			t.Fatalf("%s: the auto plan differs from the server plan (-server +auto)\n%s", situation, diff)
		}
		t.Logf("%s: %d changes; auto: %d dry-runs, %d memo hits, %d LISTs; server: %d dry-runs",
			situation, len(Changes(auto)), auto.Stats.DryRuns, auto.Stats.MemoHits, auto.Stats.Lists, server.Stats.DryRuns)
		return auto
	}

	empty := both("empty cluster", c.Objects)
	for _, ch := range empty.Changes {
		if ch.Action != plan.ActionCreate {
			t.Errorf("empty cluster: %s is %s, want create", ch.Ref, ch.Action)
		}
	}
	report := s.Apply(t, empty)
	if c.Applied != nil {
		c.Applied(t, report)
	}

	if applied := both("after apply", c.Objects); applied.HasChanges() {
		t.Errorf("right after applying, the plan changes %v", Changes(applied))
	}

	edit := c.Edit
	if edit == nil {
		edit = func(t testing.TB, s *Stack) { EditLabels(t, s, c.Objects, 3) }
	}
	edit(t, s)
	if edited := both("after an out-of-band edit", c.Objects); edited.HasChanges() == c.EditIsNoop {
		t.Errorf("after the out-of-band edit the plan changes %v; want changes: %v", Changes(edited), !c.EditIsNoop)
	}

	changed := make([]*unstructured.Unstructured, len(c.Objects))
	for i, u := range c.Objects {
		changed[i] = u.DeepCopy()
	}
	change := c.Change
	if change == nil {
		change = AnnotateFirst(3)
	}
	change(changed)
	if p := both("after a Git change", changed); !p.HasChanges() {
		t.Error("after the Git change the plan has no changes")
	}
}

// changeShape is what must agree between two plans of the same situation.
type changeShape struct {
	Ref             string
	Action          plan.Action
	Before, After   map[string]any
	Diff            []ssa.FieldDiff
	Conflicts       []plan.Conflict
	Drift           bool
	VerifiedAtApply string
	Reason          string
}

// Shape reduces a plan to what its changes are, normalised through JSON.
func Shape(p *plan.Plan) []changeShape {
	out := make([]changeShape, len(p.Changes))
	for i, c := range p.Changes {
		out[i] = changeShape{Ref: c.Ref.String(), Action: c.Action, Diff: c.Diff, Conflicts: c.Conflicts, Drift: c.Drift, VerifiedAtApply: c.VerifiedAtApply, Reason: c.Reason}
		if c.Before != nil {
			out[i].Before = jsonRoundTrip(c.Before.Object)
		}
		if c.After != nil {
			out[i].After = jsonRoundTrip(c.After.Object)
		}
		out[i].Diff = slices.Clone(c.Diff)
		for j := range out[i].Diff {
			out[i].Diff[j].Before = jsonRoundTrip(out[i].Diff[j].Before)
			out[i].Diff[j].After = jsonRoundTrip(out[i].Diff[j].After)
		}
	}
	return out
}

func jsonRoundTrip[T any](v T) T {
	b, _ := json.Marshal(v)
	var out T
	_ = json.Unmarshal(b, &out)
	return out
}

// EditLabels changes, as field manager "kubectl-edit" with an update (as
// `kubectl edit` does), one label gantry set on each of the first n objects
// that have one besides the stack label.
func EditLabels(t testing.TB, s *Stack, objs []*unstructured.Unstructured, n int) {
	t.Helper()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(s.env.restConfig())))
	edited := 0
	for _, u := range objs {
		if edited == n {
			break
		}
		var key string
		for k := range u.GetLabels() {
			if k != plan.StackLabel && (key == "" || k < key) {
				key = k
			}
		}
		if key == "" {
			continue
		}
		ref := object.RefOf(u)
		if ref.Namespace == "" && u.GetNamespace() == "" {
			ref.Namespace = s.Def.Target.Namespace
		}
		ri := s.resourceInterface(t, mapper, u.GetAPIVersion(), ref) // ignores the namespace of cluster-scoped kinds
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{key: "edited-out-of-band"}}})
		if _, err := ri.Patch(context.Background(), u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatalf("edit %s: %v", ref, err)
		}
		edited++
	}
	if edited == 0 {
		t.Fatal("no object has a label to edit")
	}
}

// AnnotateFirst returns a Change that annotates the first n objects.
func AnnotateFirst(n int) func([]*unstructured.Unstructured) {
	return func(objs []*unstructured.Unstructured) {
		for _, u := range objs[:min(n, len(objs))] {
			ann := u.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann["gantry.dev/test-change"] = "changed in git"
			u.SetAnnotations(ann)
		}
	}
}

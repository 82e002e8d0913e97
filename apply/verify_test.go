package apply

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/apply/applytest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// Manifests of the tests: Namespaces old (live) and new, a CRD of
// Widgets, ConfigMaps and Widgets in either, a ClusterRole.
const (
	nsOld      = "apiVersion: v1\nkind: Namespace\nmetadata: {name: old}\n"
	nsNew      = "apiVersion: v1\nkind: Namespace\nmetadata: {name: new}\n"
	widgetCRD  = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.t.example.com}\nspec: {group: t.example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced, versions: [{name: v1, served: true, storage: true}]}\n"
	role       = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n"
	refused    = ", annotations: {" + applytest.RefuseAnnotation + ": x}"
	labelled   = ", labels: {gantry.dev/stack: s}"
	pendingNS  = "its Namespace new is created by this plan"
	pendingCRD = "its CustomResourceDefinition widgets.t.example.com is created by this plan"
)

func configMap(ns, name, extra string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: " + ns + extra + "}\n"
}

func widget(ns, name, extra string) string {
	return "apiVersion: t.example.com/v1\nkind: Widget\nmetadata: {name: " + name + ", namespace: " + ns + extra + "}\n"
}

// step is one change of a test plan.
type step struct {
	doc     string
	action  plan.Action
	pending string // VerifiedAtApply
}

// testPlan is a plan of stack s with steps, in order.
func testPlan(t *testing.T, steps ...step) *plan.Plan {
	t.Helper()
	p := &plan.Plan{Stack: "s", Mode: plan.DiffServer}
	for _, s := range steps {
		u := manifest(t, s.doc)
		p.Changes = append(p.Changes, plan.Change{Ref: object.RefOf(u), APIVersion: u.GetAPIVersion(), Action: s.action, VerifiedAtApply: s.pending})
		if s.action != plan.ActionDelete {
			p.Desired = append(p.Desired, u)
		}
	}
	return p
}

// TestExecuteChecksPendingObjectsFirst: an object the server could not
// check at plan time is dry-run right after the phase that makes it
// checkable (its Namespace's, its CRD's); one refused stops the apply
// before any change of a later phase, with the objects already made named.
// Before, the apply went on through every phase to the refused object,
// leaving the revision half applied.
func TestExecuteChecksPendingObjectsFirst(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		live    []string
		plan    []step
		writes  []string
		results map[string]Result
		dryRuns int
		err     []string // in the error; none: the apply succeeds
	}{
		{
			name: "an invalid object in a new Namespace stops the apply after the Namespace",
			live: []string{nsOld, configMap("old", "gone", labelled)},
			plan: []step{{nsNew, plan.ActionCreate, ""}, {widgetCRD, plan.ActionCreate, ""}, {role, plan.ActionCreate, ""},
				{configMap("new", "good", ""), plan.ActionCreate, pendingNS}, {configMap("new", "bad", refused), plan.ActionCreate, pendingNS},
				{configMap("old", "beside", ""), plan.ActionCreate, ""}, {configMap("old", "gone", ""), plan.ActionDelete, ""}},
			writes: []string{"apply Namespace/new"},
			results: map[string]Result{"Namespace/new": ResultApplied, "CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com": ResultSkipped,
				"ClusterRole.rbac.authorization.k8s.io/reader": ResultSkipped, "ConfigMap/new/good": ResultSkipped, "ConfigMap/new/bad": ResultFailed,
				"ConfigMap/old/beside": ResultSkipped, "ConfigMap/old/gone": ResultSkipped},
			dryRuns: 2,
			err:     []string{"1 object(s) that could not be checked at plan time", "already made: Namespace/new", "ConfigMap/new/bad: the server refuses it (" + pendingNS},
		},
		{
			name: "an invalid resource of a new CRD stops the apply after the CRD",
			live: []string{nsOld},
			plan: []step{{widgetCRD, plan.ActionCreate, ""}, {role, plan.ActionCreate, ""},
				{widget("old", "w", refused), plan.ActionCreate, pendingCRD}, {configMap("old", "beside", ""), plan.ActionCreate, ""}},
			writes: []string{"apply CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com"},
			results: map[string]Result{"CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com": ResultApplied,
				"ClusterRole.rbac.authorization.k8s.io/reader": ResultSkipped, "Widget.t.example.com/old/w": ResultFailed, "ConfigMap/old/beside": ResultSkipped},
			dryRuns: 1,
			err:     []string{"already made: CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com", "Widget.t.example.com/old/w: the server refuses it (" + pendingCRD},
		},
		{
			name: "each object is checked as soon as it can be: the Namespace's after it, the CRD's after the CRD",
			plan: []step{{nsNew, plan.ActionCreate, ""}, {widgetCRD, plan.ActionCreate, ""},
				{configMap("new", "good", ""), plan.ActionCreate, pendingNS}, {widget("new", "w", refused), plan.ActionCreate, pendingCRD}},
			writes: []string{"apply Namespace/new", "apply CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com"},
			results: map[string]Result{"Namespace/new": ResultApplied, "CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com": ResultApplied,
				"ConfigMap/new/good": ResultSkipped, "Widget.t.example.com/new/w": ResultFailed},
			dryRuns: 2,
			err:     []string{"already made: Namespace/new, CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com"},
		},
		{
			name:   "an object of a kind whose CRD the apply changes is checked again after it",
			live:   []string{nsOld, widgetCRD, widget("old", "w", "")},
			plan:   []step{{widgetCRD, plan.ActionUpdate, ""}, {widget("old", "w", refused), plan.ActionUpdate, ""}, {configMap("old", "beside", ""), plan.ActionCreate, ""}},
			writes: []string{"apply CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com"},
			results: map[string]Result{"CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com": ResultApplied,
				"Widget.t.example.com/old/w": ResultFailed, "ConfigMap/old/beside": ResultSkipped},
			dryRuns: 1,
			err:     []string{"Widget.t.example.com/old/w: the server refuses it (its CustomResourceDefinition is changed by this plan"},
		},
		{
			name: "all accepted: every phase in order, prune last",
			live: []string{nsOld, configMap("old", "gone", labelled)},
			plan: []step{{nsNew, plan.ActionCreate, ""}, {widgetCRD, plan.ActionCreate, ""}, {role, plan.ActionCreate, ""},
				{configMap("new", "good", ""), plan.ActionCreate, pendingNS}, {widget("new", "w", ""), plan.ActionCreate, pendingCRD},
				{configMap("old", "gone", ""), plan.ActionDelete, ""}},
			writes: []string{"apply Namespace/new", "apply CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com",
				"apply ClusterRole.rbac.authorization.k8s.io/reader", "apply ConfigMap/new/good", "apply Widget.t.example.com/new/w", "delete ConfigMap/old/gone"},
			results: map[string]Result{"Namespace/new": ResultApplied, "CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com": ResultApplied,
				"ClusterRole.rbac.authorization.k8s.io/reader": ResultApplied, "ConfigMap/new/good": ResultApplied, "Widget.t.example.com/new/w": ResultApplied,
				"ConfigMap/old/gone": ResultDeleted},
			dryRuns: 2,
		},
		{
			// The boundary: what the server checked when planning is not
			// dry-run again (it fails in its own phase, as any object may).
			name:    "an object checked at plan time is not checked again",
			live:    []string{nsOld},
			plan:    []step{{role, plan.ActionCreate, ""}, {configMap("old", "bad", refused), plan.ActionCreate, ""}},
			writes:  []string{"apply ClusterRole.rbac.authorization.k8s.io/reader", "apply ConfigMap/old/bad"},
			results: map[string]Result{"ClusterRole.rbac.authorization.k8s.io/reader": ResultApplied, "ConfigMap/old/bad": ResultFailed},
			err:     []string{"1 object(s) failed"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var live []*unstructured.Unstructured
			for _, doc := range tc.live {
				live = append(live, manifest(t, doc))
			}
			c := applytest.New(live...)
			opts := Options{Concurrency: 1, Timeout: 5 * time.Second, PollInterval: 10 * time.Millisecond}
			r, err := New(c, opts).Execute(context.Background(), testPlan(t, tc.plan...))
			if len(tc.err) == 0 && err != nil {
				t.Fatalf("apply: %v", err)
			}
			for _, want := range tc.err {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("the apply's error does not say %q: %v", want, err)
				}
			}
			if diff := cmp.Diff(tc.writes, c.Writes()); diff != "" {
				t.Errorf("writes (-want +got)\n%s", diff)
			}
			got := map[string]Result{}
			for _, o := range r.Outcomes {
				got[o.Ref.String()] = o.Result
			}
			if diff := cmp.Diff(tc.results, got); diff != "" {
				t.Errorf("results (-want +got)\n%s", diff)
			}
			if c.DryRuns() != tc.dryRuns {
				t.Errorf("%d dry-runs, want %d", c.DryRuns(), tc.dryRuns)
			}
		})
	}
}

// TestCheckpoints: which changes are checked during the apply, and after
// which phase.
func TestCheckpoints(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		plan []step
		want [phases][]string
	}{
		{"nothing pending", []step{{nsNew, plan.ActionCreate, ""}, {configMap("old", "a", ""), plan.ActionCreate, ""}}, [phases][]string{}},
		{"in a new Namespace: after Namespaces",
			[]step{{nsNew, plan.ActionCreate, ""}, {configMap("new", "a", ""), plan.ActionCreate, pendingNS}},
			[phases][]string{phaseNamespaces: {"ConfigMap/new/a"}}},
		{"of a new CRD: after CRDs, even in a new Namespace",
			[]step{{nsNew, plan.ActionCreate, ""}, {widgetCRD, plan.ActionCreate, ""}, {widget("new", "w", ""), plan.ActionCreate, pendingCRD}},
			[phases][]string{phaseCRDs: {"Widget.t.example.com/new/w"}}},
		{"of a CRD changed: after CRDs",
			[]step{{widgetCRD, plan.ActionUpdate, ""}, {widget("old", "w", ""), plan.ActionUpdate, ""}},
			[phases][]string{phaseCRDs: {"Widget.t.example.com/old/w"}}},
		{"of a CRD unchanged: not checked",
			[]step{{widgetCRD, plan.ActionNoop, ""}, {widget("old", "w", ""), plan.ActionUpdate, ""}},
			[phases][]string{}},
		{"pending, of a CRD unchanged: after CRDs",
			[]step{{nsNew, plan.ActionCreate, ""}, {widgetCRD, plan.ActionNoop, ""}, {widget("new", "w", ""), plan.ActionCreate, pendingNS}},
			[phases][]string{phaseCRDs: {"Widget.t.example.com/new/w"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := testPlan(t, tc.plan...)
			var byPhase [phases][]item
			desired := map[object.Ref]*unstructured.Unstructured{}
			for _, u := range p.Desired {
				desired[object.RefOf(u)] = u
			}
			for i, c := range p.Changes {
				if c.Action != plan.ActionNoop {
					byPhase[phaseOf(c.Ref)] = append(byPhase[phaseOf(c.Ref)], item{index: i, change: c, desired: desired[c.Ref]})
				}
			}
			var got [phases][]string
			for ph, items := range checkpoints(p, byPhase) {
				for _, it := range items {
					got[ph] = append(got[ph], it.change.Ref.String())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("checkpoints by phase (-want +got)\n%s", diff)
			}
		})
	}
}

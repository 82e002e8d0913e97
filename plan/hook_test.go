package plan

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/object"
)

// hookCM is a ConfigMap hook with the given annotations.
func hookCM(t *testing.T, name, annotations string) *unstructured.Unstructured {
	t.Helper()
	return objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+name+", namespace: web, annotations: {"+annotations+"}}\n")
}

func TestHookSpecOfAndRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		annotations       string
		wantErr           string
		install, upgrade  string // "phase event", or "" when it does not run
		weight            int
		deletesBeforeInit bool
	}{
		{`helm.sh/hook: pre-install`, "", "pre pre-install", "", 0, true},
		{`helm.sh/hook: "pre-install,pre-upgrade", helm.sh/hook-weight: "-5"`, "", "pre pre-install", "pre pre-upgrade", -5, true},
		{`helm.sh/hook: "post-install,post-upgrade", helm.sh/hook-delete-policy: hook-succeeded`, "", "post post-install", "post post-upgrade", 0, false},
		{`helm.sh/hook: "pre-install,post-install"`, "", "pre pre-install", "", 0, true},
		{`helm.sh/hook: test`, "", "", "", 0, true},
		{`helm.sh/hook: "pre-delete,pre-rollback"`, "", "", "", 0, true},
		{`helm.sh/hook: "pre-upgrade", helm.sh/hook-delete-policy: "before-hook-creation,hook-failed"`, "", "", "pre pre-upgrade", 0, true},
		{`helm.sh/hook: preinstall`, `"preinstall" is not a hook event`, "", "", 0, false},
		{`helm.sh/hook: pre-install, helm.sh/hook-weight: heavy`, `"heavy" is not a whole number`, "", "", 0, false},
		{`helm.sh/hook: pre-install, helm.sh/hook-delete-policy: never`, `"never" is not a delete policy`, "", "", 0, false},
	} {
		spec, ok, err := HookSpecOf(hookCM(t, "h", tc.annotations))
		if !ok {
			t.Errorf("%s: not a hook", tc.annotations)
			continue
		}
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.annotations, err, tc.wantErr)
			}
			continue
		}
		for op, want := range map[bool]string{true: tc.install, false: tc.upgrade} {
			h, runs := spec.Run(op)
			got := ""
			if runs {
				got = string(h.Phase) + " " + h.Event
				if h.Weight != tc.weight || h.Deletes(DeleteBeforeCreation) != tc.deletesBeforeInit {
					t.Errorf("%s: weight %d, deletes before creation %t", tc.annotations, h.Weight, h.Deletes(DeleteBeforeCreation))
				}
			}
			if got != want {
				t.Errorf("%s (install %t): runs %q, want %q", tc.annotations, op, got, want)
			}
		}
	}
	if _, ok, _ := HookSpecOf(hookCM(t, "h", "team: a")); ok {
		t.Error("an object without helm.sh/hook is a hook")
	}
}

// TestPlanHooks: hooks are planned as runs in their phase only when the
// plan changes something else; install hooks on a stack's first apply,
// upgrade hooks after; never compared with the cluster, never in the memo,
// never prune candidates.
func TestPlanHooks(t *testing.T) {
	t.Parallel()
	cm := func(v string) *unstructured.Unstructured {
		return objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: web}\ndata: {v: \""+v+"\"}\n")
	}
	hooks := []*unstructured.Unstructured{
		hookCM(t, "migrate", `helm.sh/hook: "pre-install,pre-upgrade"`),
		hookCM(t, "seed", `helm.sh/hook: post-install`),
		hookCM(t, "notify", `helm.sh/hook: post-upgrade, helm.sh/hook-delete-policy: hook-succeeded`),
		objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: report-, namespace: web, annotations: {helm.sh/hook: post-upgrade}}\n"),
	}
	compute := func(c *memCluster, inventory []InventoryObject, app *unstructured.Unstructured) *Plan {
		t.Helper()
		in := Input{Stack: "s", Objects: append([]*unstructured.Unstructured{app}, hooks...), Key: object.HashKey("salt"), Mode: DiffServer,
			Options: Options{Namespace: "web", Prune: true, MaxPrunePercent: 100}, Inventory: inventory}
		res, err := NewPlanner(c, PlannerOptions{Concurrency: 2}).Compute(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return res.Plan
	}
	runs := func(p *Plan) []string {
		var out []string
		for _, c := range p.Changes {
			if c.Hook != nil {
				out = append(out, c.Ref.Name+" "+c.Hook.Event)
			}
		}
		return out
	}
	c := &memCluster{}
	install := compute(c, nil, cm("1"))
	if diff := cmp.Diff([]string{"migrate pre-install", "seed post-install"}, runs(install)); diff != "" {
		t.Errorf("install runs (-want +got)\n%s", diff)
	}
	if a, _, _ := install.Summary(); a != 1 || install.Hooks() != 2 || len(install.Desired) != 5 || len(install.Base) != 1 {
		t.Errorf("install: %d to add, %d hooks, %d manifests, %d bases; want 1, 2, 5 (hooks' included for the apply), 1 (not the hooks)", a, install.Hooks(), len(install.Desired), len(install.Base))
	}
	applied := cm("1")
	applied.SetLabels(map[string]string{StackLabel: "s"})
	live, err := (&memCluster{}).applied(applied)
	if err != nil {
		t.Fatal(err)
	}
	c = &memCluster{live: []*unstructured.Unstructured{live}}
	inventory := []InventoryObject{{Ref: object.RefOf(live), APIVersion: "v1"}}
	if p := compute(c, inventory, cm("1")); p.HasChanges() || len(runs(p)) > 0 {
		t.Errorf("a plan that changes nothing runs hooks: %v", runs(p))
	}
	upgrade := compute(c, inventory, cm("2"))
	if diff := cmp.Diff([]string{"migrate pre-upgrade", "notify post-upgrade", "report-* post-upgrade"}, runs(upgrade)); diff != "" {
		t.Errorf("upgrade runs (-want +got)\n%s", diff)
	}
	for _, ch := range upgrade.Changes {
		if ch.Ref.Name == "report-*" && !strings.Contains(ch.Reason, "created under a name the server generates (report-…)") {
			t.Errorf("the generated hook's reason: %q", ch.Reason)
		}
	}
	for _, ch := range upgrade.Changes {
		if ch.Action == ActionDelete {
			t.Errorf("the upgrade deletes %s", ch.Ref)
		}
	}
}

// TestHookRisks: a row per hook the planner refuses or treats with care —
// an unhookable kind, an object of the hook's name another stack (or
// nobody) owns; an object of the stack turned hook runs and is not pruned;
// a first apply over live objects (a release helm installed, adopted) is
// an upgrade.
func TestHookRisks(t *testing.T) {
	t.Parallel()
	app := func(labels string) *unstructured.Unstructured {
		return objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: web"+labels+"}\ndata: {v: \"2\"}\n")
	}
	ours, theirs := ", labels: {gantry.dev/stack: s}", ", labels: {gantry.dev/stack: other}"
	hook := hookCM(t, "migrate", `helm.sh/hook: "pre-install,pre-upgrade"`)
	for _, tc := range []struct {
		name      string
		objects   []*unstructured.Unstructured
		live      []*unstructured.Unstructured
		inventory []InventoryObject
		wantErr   string
		runs      string // the hook's event, "" for none
		deletes   int
	}{
		{"a Namespace hook", []*unstructured.Unstructured{app(""), objtest.Parse(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: web, annotations: {helm.sh/hook: pre-install}}\n")},
			nil, nil, "Namespace/web is a hook", "", 0},
		{"a hook's name live, another stack's", []*unstructured.Unstructured{app(""), hook},
			[]*unstructured.Unstructured{objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: migrate, namespace: web"+theirs+"}\n")},
			nil, `stack s does not own (its gantry.dev/stack label is "other")`, "", 0},
		{"an object of the stack turned hook: runs, not pruned", []*unstructured.Unstructured{app(""), hook},
			[]*unstructured.Unstructured{app(ours), objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: migrate, namespace: web"+ours+"}\n")},
			[]InventoryObject{{Ref: object.Ref{Kind: "ConfigMap", Namespace: "web", Name: "app"}, APIVersion: "v1"}, {Ref: object.Ref{Kind: "ConfigMap", Namespace: "web", Name: "migrate"}, APIVersion: "v1"}},
			"", "pre-upgrade", 0},
		{"a first apply over live objects is an upgrade", []*unstructured.Unstructured{app(""), hook},
			[]*unstructured.Unstructured{app("")}, nil, "", "pre-upgrade", 0},
	} {
		in := Input{Stack: "s", Objects: tc.objects, Key: object.HashKey("salt"), Mode: DiffServer, Inventory: tc.inventory,
			Options: Options{Namespace: "web", Prune: true, MaxPrunePercent: 100, ForceConflicts: true}}
		res, err := NewPlanner(&memCluster{live: tc.live}, PlannerOptions{Concurrency: 2}).Compute(context.Background(), in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var runs string
		deletes := 0
		for _, c := range res.Plan.Changes {
			if c.Hook != nil {
				runs = c.Hook.Event
			}
			if c.Action == ActionDelete {
				deletes++
			}
		}
		if runs != tc.runs || deletes != tc.deletes {
			t.Errorf("%s: the hook runs for %q, %d deletes; want %q, %d", tc.name, runs, deletes, tc.runs, tc.deletes)
		}
	}
}

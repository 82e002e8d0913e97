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

// hookRun is a hook change of a test plan.
type hookRun struct {
	doc  string
	hook plan.Hook
}

// withHooks adds hook runs to a test plan.
func withHooks(t *testing.T, p *plan.Plan, hooks ...hookRun) *plan.Plan {
	t.Helper()
	for _, h := range hooks {
		u := manifest(t, h.doc)
		hook := h.hook
		p.Changes = append(p.Changes, plan.Change{Ref: object.RefOf(u), APIVersion: u.GetAPIVersion(), Action: plan.ActionCreate, Hook: &hook})
		p.Desired = append(p.Desired, u)
	}
	return p
}

// generated is a ConfigMap hook named by generateName prefix (as the
// server stores it once named, when name is given).
func generated(prefix, name, extra string) string {
	named := ""
	if name != "" {
		named = "name: " + name + ", "
	}
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {" + named + "generateName: " + prefix + ", namespace: old, annotations: {helm.sh/hook: pre-upgrade}" + extra + "}\n"
}

// TestExecuteHooks: a row per way hooks run — pre hooks after Namespaces
// and CRDs and before everything else, by weight; post hooks after every
// other object, before prune; the last run deleted first by default,
// deleted after success or failure by policy; a hook the server names
// (generateName) created anew, its stack's last runs found and deleted; a
// failing hook stopping every later hook, object and prune.
func TestExecuteHooks(t *testing.T) {
	t.Parallel()
	refused := ", annotations: {" + applytest.RefuseAnnotation + ": x}"
	pre := func(weight int, policies ...string) plan.Hook {
		return plan.Hook{Phase: plan.HookPre, Event: "pre-upgrade", Weight: weight, DeletePolicies: policies}
	}
	post := func(policies ...string) plan.Hook {
		return plan.Hook{Phase: plan.HookPost, Event: "post-upgrade", DeletePolicies: policies}
	}
	cases := []struct {
		name    string
		live    []string
		plan    []step
		hooks   []hookRun
		writes  []string
		results map[string]Result
		pruned  bool
		wantErr string
		wait    bool // a short timeout: the hook never gets ready
		noWait  bool // Options.Wait off
	}{
		{
			name: "phases, weights and delete policies",
			live: []string{nsOld, configMap("old", "gone", labelled), configMap("old", "h1", labelled)},
			plan: []step{{configMap("old", "a", ""), plan.ActionCreate, ""}, {configMap("old", "gone", labelled), plan.ActionDelete, ""}, {nsNew, plan.ActionCreate, ""}},
			hooks: []hookRun{{configMap("old", "h1", ""), pre(5)}, {configMap("old", "h0", ""), pre(-1, plan.DeleteOnSuccess)},
				{configMap("old", "p", ""), post(plan.DeleteOnSuccess, plan.DeleteOnFailure)}},
			writes: []string{"apply Namespace/new", "apply ConfigMap/old/h0", "delete ConfigMap/old/h0", "delete ConfigMap/old/h1", "apply ConfigMap/old/h1",
				"apply ConfigMap/old/a", "apply ConfigMap/old/p", "delete ConfigMap/old/p", "delete ConfigMap/old/gone"},
			results: map[string]Result{"ConfigMap/old/h0": ResultApplied, "ConfigMap/old/h1": ResultApplied, "ConfigMap/old/p": ResultApplied, "ConfigMap/old/gone": ResultDeleted},
			pruned:  true,
		},
		{
			name:    "a failing pre hook stops every later hook, object and prune",
			live:    []string{nsOld, configMap("old", "gone", labelled)},
			plan:    []step{{configMap("old", "a", ""), plan.ActionCreate, ""}, {configMap("old", "gone", labelled), plan.ActionDelete, ""}},
			hooks:   []hookRun{{configMap("old", "bad", refused), pre(0, plan.DeleteOnFailure)}, {configMap("old", "later", ""), pre(1)}, {configMap("old", "p", ""), post()}},
			writes:  []string{"apply ConfigMap/old/bad"}, // refused: nothing was made, nothing to delete
			results: map[string]Result{"ConfigMap/old/bad": ResultFailed, "ConfigMap/old/later": ResultSkipped, "ConfigMap/old/a": ResultSkipped, "ConfigMap/old/gone": ResultSkipped},
			wantErr: "pre hook ConfigMap/old/bad failed, later hooks, objects and prune skipped",
		},
		{
			name:    "the last run of a name the stack does not own is not deleted",
			live:    []string{nsOld, configMap("old", "theirs", "")},
			plan:    []step{{configMap("old", "a", ""), plan.ActionCreate, ""}},
			hooks:   []hookRun{{configMap("old", "theirs", ""), pre(0)}},
			writes:  nil,
			results: map[string]Result{"ConfigMap/old/theirs": ResultFailed, "ConfigMap/old/a": ResultSkipped},
			wantErr: `stack s does not own (its gantry.dev/stack label is "")`,
		},
		{
			name:    "a refusal of an object the new CRD made checkable runs no hook",
			live:    []string{nsOld},
			plan:    []step{{widgetCRD, plan.ActionCreate, ""}, {widget("old", "w", refused), plan.ActionCreate, pendingCRD}},
			hooks:   []hookRun{{configMap("old", "migrate", ""), pre(0)}},
			writes:  []string{"apply CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com"},
			results: map[string]Result{"Widget.t.example.com/old/w": ResultFailed, "ConfigMap/old/migrate": ResultSkipped},
			wantErr: "could not be checked at plan time",
		},
		{
			name:    "a failing post hook skips prune",
			live:    []string{nsOld, configMap("old", "gone", labelled)},
			plan:    []step{{configMap("old", "a", ""), plan.ActionCreate, ""}, {configMap("old", "gone", labelled), plan.ActionDelete, ""}},
			hooks:   []hookRun{{configMap("old", "p", refused), post(plan.DeleteOnSuccess)}},
			writes:  []string{"apply ConfigMap/old/a", "apply ConfigMap/old/p"},
			results: map[string]Result{"ConfigMap/old/a": ResultApplied, "ConfigMap/old/p": ResultFailed, "ConfigMap/old/gone": ResultSkipped},
			wantErr: "post hook ConfigMap/old/p failed",
		},
		{
			name: "waited for: a hook that fails is deleted by hook-failed, and stops the apply",
			live: []string{nsOld},
			plan: []step{{configMap("old", "a", ""), plan.ActionCreate, ""}},
			hooks: []hookRun{{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: old, generation: 1}\nstatus: {observedGeneration: 1, conditions: [{type: Failed, status: \"True\"}]}\n",
				pre(0, plan.DeleteOnFailure)}},
			writes:  []string{"apply Job.batch/old/migrate", "delete Job.batch/old/migrate"},
			results: map[string]Result{"Job.batch/old/migrate": ResultFailed, "ConfigMap/old/a": ResultSkipped},
			wantErr: "pre hook Job.batch/old/migrate failed",
			wait:    true,
		},
		{
			name: "a hook the server names: its stack's last runs deleted first, then created under a new name",
			live: []string{nsOld, generated("report-", "report-00042", labelled), generated("report-", "report-00043", ", labels: {gantry.dev/stack: other}"),
				generated("other-", "other-00001", labelled), configMap("old", "report-00044", labelled)},
			plan:    []step{{configMap("old", "a", ""), plan.ActionCreate, ""}},
			hooks:   []hookRun{{generated("report-", "", labelled), pre(0)}},
			writes:  []string{"delete ConfigMap/old/report-00042", "create ConfigMap/old/report-00001", "apply ConfigMap/old/a"},
			results: map[string]Result{"ConfigMap/old/report-*": ResultApplied, "ConfigMap/old/a": ResultApplied},
			pruned:  true,
		},
		{
			name:    "a hook the server names, hook-succeeded: deleted by the name it was given",
			live:    []string{nsOld},
			plan:    []step{{configMap("old", "a", ""), plan.ActionCreate, ""}},
			hooks:   []hookRun{{generated("report-", "", labelled), post(plan.DeleteOnSuccess)}},
			writes:  []string{"apply ConfigMap/old/a", "create ConfigMap/old/report-00001", "delete ConfigMap/old/report-00001"},
			results: map[string]Result{"ConfigMap/old/report-*": ResultApplied},
			pruned:  true,
		},
		{
			name:    "not waited for, a hook is left to run: hook-succeeded deletes nothing yet",
			live:    []string{nsOld},
			plan:    []step{{configMap("old", "a", ""), plan.ActionCreate, ""}},
			hooks:   []hookRun{{configMap("old", "h", ""), pre(0, plan.DeleteOnSuccess)}},
			writes:  []string{"apply ConfigMap/old/h", "apply ConfigMap/old/a"},
			results: map[string]Result{"ConfigMap/old/h": ResultApplied, "ConfigMap/old/a": ResultApplied},
			pruned:  true,
			noWait:  true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var live []*unstructured.Unstructured
			for _, doc := range tc.live {
				live = append(live, manifest(t, doc))
			}
			c := applytest.New(live...)
			opts := Options{Concurrency: 1, Timeout: 5 * time.Second, PollInterval: 10 * time.Millisecond, Wait: true}
			if tc.wait {
				opts.Timeout = 300 * time.Millisecond
			}
			opts.Wait = !tc.noWait
			r, err := New(c, opts).Execute(context.Background(), withHooks(t, testPlan(t, tc.plan...), tc.hooks...))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.writes, c.Writes()); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			results := map[string]Result{}
			for _, o := range r.Outcomes {
				results[o.Ref.String()] = o.Result
			}
			for ref, want := range tc.results {
				if results[ref] != want {
					t.Errorf("%s: %s, want %s (all: %v)", ref, results[ref], want, results)
				}
			}
			if r.Pruned != tc.pruned {
				t.Errorf("pruned %v, want %v", r.Pruned, tc.pruned)
			}
		})
	}
}

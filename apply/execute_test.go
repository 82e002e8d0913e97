package apply

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/apply/applytest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// TestExecute carries out plans against gantry's Cluster held in memory,
// one request at a time, and checks the writes in order and each object's
// result: the phases (Namespaces, CRDs, cluster RBAC, the rest), replace
// (delete, then create), prune last and in reverse phase order, finalizers,
// forbidden deletes, failures stopping later phases and prune, objects that
// changed hands kept, and interruption.
func TestExecute(t *testing.T) {
	finalized := ", finalizers: [t.example.com/hold]"
	forbidden := ", annotations: {" + applytest.ForbidDeleteAnnotation + ": x}"
	ours := func(doc, name string) string {
		return strings.Replace(doc, "{name: "+name+"}", "{name: "+name+labelled+"}", 1)
	}
	nsGone, roleGone, crdGone := ours(nsNew, "new"), ours(role, "reader"), ours(widgetCRD, "widgets.t.example.com")
	cases := []struct {
		name string
		live []string
		plan []step
		// stopAfter cancels the apply's context once this many outcomes
		// are known (0: never).
		stopAfter int
		writes    []string
		results   map[string]Result
		pruned    bool
		wantErr   string
		interrupt bool
	}{
		{
			name: "phases in order, whatever the plan's order",
			plan: []step{{configMap("new", "a", ""), plan.ActionCreate, ""}, {role, plan.ActionCreate, ""},
				{widget("new", "w", ""), plan.ActionCreate, ""}, {widgetCRD, plan.ActionCreate, ""}, {nsNew, plan.ActionCreate, ""}},
			writes: []string{"apply Namespace/new", "apply CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com",
				"apply ClusterRole.rbac.authorization.k8s.io/reader", "apply ConfigMap/new/a", "apply Widget.t.example.com/new/w"},
			results: map[string]Result{"Namespace/new": ResultApplied, "ConfigMap/new/a": ResultApplied, "Widget.t.example.com/new/w": ResultApplied},
			pruned:  true,
		},
		{
			name:    "replace deletes, then creates",
			live:    []string{nsOld, configMap("old", "a", labelled)},
			plan:    []step{{configMap("old", "a", labelled), plan.ActionReplace, ""}},
			writes:  []string{"delete ConfigMap/old/a", "apply ConfigMap/old/a"},
			results: map[string]Result{"ConfigMap/old/a": ResultReplaced},
			pruned:  true,
		},
		{
			name: "prune last, in reverse phase order",
			live: []string{nsOld, crdGone, configMap("old", "gone", labelled), roleGone, nsGone, widget("old", "w", labelled)},
			plan: []step{{nsGone, plan.ActionDelete, ""}, {crdGone, plan.ActionDelete, ""}, {widget("old", "w", labelled), plan.ActionDelete, ""},
				{roleGone, plan.ActionDelete, ""}, {configMap("old", "gone", labelled), plan.ActionDelete, ""}, {configMap("old", "b", ""), plan.ActionCreate, ""}},
			writes: []string{"apply ConfigMap/old/b", "delete Widget.t.example.com/old/w", "delete ConfigMap/old/gone",
				"delete ClusterRole.rbac.authorization.k8s.io/reader", "delete CustomResourceDefinition.apiextensions.k8s.io/widgets.t.example.com", "delete Namespace/new"},
			results: map[string]Result{"ConfigMap/old/gone": ResultDeleted, "Namespace/new": ResultDeleted, "ConfigMap/old/b": ResultApplied},
			pruned:  true,
		},
		{
			name:    "finalizers hold a pruned object: terminating",
			live:    []string{nsOld, configMap("old", "held", labelled+finalized)},
			plan:    []step{{configMap("old", "held", labelled), plan.ActionDelete, ""}},
			writes:  []string{"delete ConfigMap/old/held"},
			results: map[string]Result{"ConfigMap/old/held": ResultTerminating},
			pruned:  true,
		},
		{
			name:    "a forbidden delete fails the prune",
			live:    []string{nsOld, configMap("old", "kept", labelled+forbidden), configMap("old", "gone", labelled)},
			plan:    []step{{configMap("old", "kept", labelled), plan.ActionDelete, ""}, {configMap("old", "gone", labelled), plan.ActionDelete, ""}},
			writes:  []string{"delete ConfigMap/old/kept", "delete ConfigMap/old/gone"},
			results: map[string]Result{"ConfigMap/old/kept": ResultFailed, "ConfigMap/old/gone": ResultDeleted},
			pruned:  true,
			wantErr: "1 object(s) failed",
		},
		{
			name:    "an object no longer the stack's is kept",
			live:    []string{nsOld, configMap("old", "theirs", ", labels: {gantry.dev/stack: other}")},
			plan:    []step{{configMap("old", "theirs", labelled), plan.ActionDelete, ""}},
			results: map[string]Result{"ConfigMap/old/theirs": ResultKept},
			pruned:  true,
		},
		{
			name: "a failure stops later phases and prune",
			live: []string{nsOld, configMap("old", "gone", labelled)},
			plan: []step{{configMap("old", "a", ""), plan.ActionCreate, ""}, {strings.Replace(nsNew, "{name: new}", "{name: new"+refused+"}", 1), plan.ActionCreate, ""},
				{configMap("old", "gone", labelled), plan.ActionDelete, ""}},
			writes:  []string{"apply Namespace/new"},
			results: map[string]Result{"Namespace/new": ResultFailed, "ConfigMap/old/a": ResultSkipped, "ConfigMap/old/gone": ResultSkipped},
			wantErr: "later phases and prune skipped",
		},
		{
			name: "interrupted: nothing more starts, prune skipped",
			live: []string{nsOld, configMap("old", "gone", labelled)},
			plan: []step{{configMap("old", "a", ""), plan.ActionCreate, ""}, {configMap("old", "b", ""), plan.ActionCreate, ""},
				{configMap("old", "gone", labelled), plan.ActionDelete, ""}},
			stopAfter: 1,
			writes:    []string{"apply ConfigMap/old/a"},
			// b had started when the context ended: its request fails unsent.
			results:   map[string]Result{"ConfigMap/old/a": ResultApplied, "ConfigMap/old/b": ResultFailed, "ConfigMap/old/gone": ResultSkipped},
			wantErr:   "apply interrupted after 1 of 3 objects",
			interrupt: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var live []*unstructured.Unstructured
			for _, doc := range tc.live {
				live = append(live, manifest(t, doc))
			}
			c := applytest.New(live...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			known := 0
			opts := Options{Concurrency: 1, Timeout: 5 * time.Second, PollInterval: 10 * time.Millisecond, OnOutcome: func(Outcome) {
				if known++; known == tc.stopAfter {
					cancel()
				}
			}}
			r, err := New(c, opts).Execute(ctx, testPlan(t, tc.plan...))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if tc.interrupt != errors.Is(err, context.Canceled) {
				t.Errorf("error %v: interruption %v, want %v", err, errors.Is(err, context.Canceled), tc.interrupt)
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
			if r.Pruned != tc.pruned || r.Interrupted != tc.interrupt {
				t.Errorf("pruned %v, interrupted %v; want %v, %v", r.Pruned, r.Interrupted, tc.pruned, tc.interrupt)
			}
		})
	}
}

// TestExecuteFence: once the fence refuses (the stack's lock was lost),
// no write is made: every object fails with the fence's error.
func TestExecuteFence(t *testing.T) {
	c := applytest.New(manifest(t, nsOld))
	lost := errors.New("the stack's lock was lost")
	a := New(c, Options{Concurrency: 1})
	a.SetFence(func(context.Context) error { return lost })
	r, err := a.Execute(context.Background(), testPlan(t, step{configMap("old", "a", ""), plan.ActionCreate, ""}))
	if err == nil || len(c.Writes()) != 0 || r.Outcomes[0].Result != ResultFailed || !errors.Is(r.Outcomes[0].Err, lost) {
		t.Fatalf("error %v, writes %v, outcome %+v: want no write and the object failed with the fence's error", err, c.Writes(), r.Outcomes[0])
	}
	if ref := object.RefOf(manifest(t, configMap("old", "a", ""))); c.Object(ref) != nil {
		t.Fatalf("%s was written past the fence", ref)
	}
}

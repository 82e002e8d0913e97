package engine_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/apply/applytest"
	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// world is one engine over gantry's own in-memory record and cluster, and a
// real Git repository on disk: the engine's sequence without Postgres or a
// control plane.
type world struct {
	t       *testing.T
	repo    *gittest.Repo
	record  *memRecord
	cluster *applytest.Cluster
	engine  *engine.Engine
	stack   stack.Stack
}

func configMap(value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {v: %q}\n", value)
}

// newWorld makes a stack of policies (gantry.yaml fields) whose repository
// holds a ConfigMap, on a cluster holding its Namespace.
func newWorld(t *testing.T, policies string) *world {
	t.Helper()
	w := &world{t: t, repo: gittest.NewRepo(t), record: newMemRecord()}
	w.repo.Commit("web", map[string]string{"deploy/cm.yaml": configMap("1")})
	cfg, err := stack.Parse("gantry.yaml", fmt.Appendf(nil, "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n  - name: web\n    source: {repo: %s, ref: main, path: deploy}\n    target: {namespace: shop}\n%s", w.repo.Dir, policies))
	if err != nil {
		t.Fatal(err)
	}
	w.stack = cfg.Stacks[0]
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "shop"}}}
	w.cluster = applytest.New(ns)
	fetch := source.DefaultFetchOptions()
	fetch.CacheDir = t.TempDir()
	w.engine = engine.NewWith(w.record, source.NewFetcher(fetch), engine.Options{})
	return w
}

// reconcile runs one reconcile and returns its result.
func (w *world) reconcile() *engine.ReconcileResult {
	w.t.Helper()
	opts := apply.DefaultOptions()
	opts.Wait = false
	res, err := w.engine.Reconcile(context.Background(), engine.ReconcileRequest{Stack: w.stack, Cluster: w.cluster, Actor: "gantry-run", Apply: opts})
	if err != nil {
		w.t.Fatalf("reconcile: %v (outcome %s, phase %s)", err, res.Outcome, res.Phase)
	}
	return res
}

func (w *world) value() string {
	u := w.cluster.Object(object.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "web"})
	if u == nil {
		return ""
	}
	v, _, _ := unstructured.NestedString(u.Object, "data", "v")
	return v
}

// TestReconcileManualApproval: with approval manual, a new commit's plan
// waits, on record, and nothing is written to the cluster; once a person
// approves it, the next reconcile applies exactly that plan; then nothing
// is left to do, and a reconcile with nothing to do reads the cluster
// without a dry-run.
func TestReconcileManualApproval(t *testing.T) {
	w := newWorld(t, "    approval: manual\n")
	res := w.reconcile()
	if res.Outcome != gate.Pending || res.Plan == nil || len(w.cluster.Writes()) != 0 {
		t.Fatalf("first reconcile: %s %q, writes %v; want pending and nothing written", res.Outcome, res.Reason, w.cluster.Writes())
	}
	planID := res.Plan.ID
	if g, _ := w.record.LatestGate(context.Background(), "web"); g == nil || g.PlanID != planID || g.Status != gate.StatusPending {
		t.Fatalf("the gate: %+v, want plan %s pending", g, planID)
	}
	if again := w.reconcile(); again.Outcome != gate.Pending || again.Plan != nil {
		t.Errorf("the same plan again: %s, plan %v; want it to wait, nothing new", again.Outcome, again.Plan)
	}
	if _, err := w.engine.Decide(context.Background(), state.Decision{PlanID: planID, Approve: true, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	if res := w.reconcile(); res.Outcome != gate.Applied || res.Plan == nil || res.Plan.ID != planID || w.value() != "1" {
		t.Fatalf("after approval: %s, plan %v, value %q; want plan %s applied", res.Outcome, res.Plan, w.value(), planID)
	}
	before := w.cluster.DryRuns()
	if res := w.reconcile(); res.Outcome != gate.Unchanged || w.cluster.DryRuns() != before {
		t.Errorf("nothing to do: %s, %d dry-runs; want unchanged, none", res.Outcome, w.cluster.DryRuns()-before)
	}
	want := []event.Kind{event.PlanCreated, event.PlanPending, event.PlanApproved, event.ApplyStarted, event.ApplySucceeded}
	if got := w.record.kinds(); !slices.Equal(got[:len(want)], want) {
		t.Errorf("events %v, want %v first", got, want)
	}
}

// TestReconcileDriftReport: with drift: report, a change made by another
// manager is reported once, on record, and not undone; with correct
// (the default) it is undone at once.
func TestReconcileDriftReport(t *testing.T) {
	for _, tc := range []struct {
		policy  string
		outcome gate.Outcome
		value   string
		events  int
	}{
		{"    drift: report\n", gate.DriftReported, "edited", 1},
		{"", gate.Applied, "1", 0},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			w := newWorld(t, "    approval: auto\n"+tc.policy)
			if res := w.reconcile(); res.Outcome != gate.Applied {
				t.Fatalf("first reconcile: %s %q", res.Outcome, res.Reason)
			}
			edited := w.cluster.Object(object.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "web"})
			edited.Object["data"] = map[string]any{"v": "edited"}
			w.cluster.Put(edited)
			for range 2 {
				if res := w.reconcile(); res.Outcome != tc.outcome || res.Drift != 1 {
					t.Fatalf("after the edit: %s %q, drift %d; want %s, 1 drifted", res.Outcome, res.Reason, res.Drift, tc.outcome)
				}
				if tc.outcome == gate.Applied {
					break
				}
			}
			if w.value() != tc.value {
				t.Errorf("value %q, want %q", w.value(), tc.value)
			}
			if n := count(w.record.kinds(), event.DriftDetected); n != tc.events {
				t.Errorf("%d drift.detected events over two reconciles, want %d", n, tc.events)
			}
		})
	}
}

// TestReconcileWindowDefers: a deny window open now holds the plan
// (recorded once, nothing written); the plan waits for the window.
func TestReconcileWindowDefers(t *testing.T) {
	w := newWorld(t, "    approval: auto\n    windows:\n      - {kind: deny, schedule: \"* * * * *\", duration: 1h}\n")
	for range 2 {
		if res := w.reconcile(); res.Outcome != gate.Deferred || len(w.cluster.Writes()) != 0 {
			t.Fatalf("in a deny window: %s %q, writes %v; want deferred, nothing written", res.Outcome, res.Reason, w.cluster.Writes())
		}
	}
	if n := count(w.record.kinds(), event.ApplyDeferred); n != 1 {
		t.Errorf("%d apply.deferred events over two reconciles, want 1", n)
	}
}

// TestReconcileLocked: a stack whose lock another process holds is not
// reconciled at all.
func TestReconcileLocked(t *testing.T) {
	w := newWorld(t, "")
	l, err := w.record.Lock(context.Background(), "web", "someone", "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	if res := w.reconcile(); res.Outcome != gate.Locked || len(w.record.kinds()) != 0 {
		t.Errorf("locked: %s, events %v; want locked, nothing recorded", res.Outcome, w.record.kinds())
	}
}

func count(kinds []event.Kind, k event.Kind) int {
	n := 0
	for _, x := range kinds {
		if x == k {
			n++
		}
	}
	return n
}

// TestReconcileRefusesKnownFailures: an object another stack owns makes the
// plan fail at apply; it is refused before its first write, recorded once,
// and the same plan computed again is refused again without a new record.
func TestReconcileRefusesKnownFailures(t *testing.T) {
	w := newWorld(t, "    approval: auto\n")
	theirs := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "web", "namespace": "shop", "labels": map[string]any{"gantry.dev/stack": "other"}}}}
	w.cluster.Put(theirs)
	opts := apply.DefaultOptions()
	opts.Wait = false
	for i := range 2 {
		res, err := w.engine.Reconcile(context.Background(), engine.ReconcileRequest{Stack: w.stack, Cluster: w.cluster, Actor: "gantry-run", Apply: opts})
		if err == nil || res.Outcome != gate.Refused || res.Repeat != (i == 1) {
			t.Fatalf("reconcile %d: %v, %s, repeat %v; want refused (a repeat the second time)", i, err, res.Outcome, res.Repeat)
		}
	}
	if len(w.cluster.Writes()) != 0 || count(w.record.kinds(), event.ApplyRefused) != 1 || count(w.record.kinds(), event.PlanCreated) != 1 {
		t.Errorf("writes %v, events %v; want nothing written, the refusal and its plan recorded once", w.cluster.Writes(), w.record.kinds())
	}
}

package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

// mixedObjects returns n ConfigMaps, and d Deployments each with a Service.
func mixedObjects(t testing.TB, n, d int) []*unstructured.Unstructured {
	t.Helper()
	var docs []string
	for i := range n {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%03d}\ndata: {index: \"%d\"}\n", i, i))
	}
	for i := range d {
		docs = append(docs, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%02d}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-%02d}}
  template:
    metadata: {labels: {app: app-%02d}}
    spec: {containers: [{name: app, image: "nginx:1.27", resources: {requests: {cpu: 100m}}}]}
`, i, i, i), fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: app-%02d}\nspec: {selector: {app: app-%02d}, ports: [{port: 80}]}\n", i, i))
	}
	return parseObjects(t, docs...)
}

// delta is the requests a plan made, counted on the wire.
func delta(k *kube.Cluster, f func()) kube.Stats {
	before := k.Stats()
	f()
	after := k.Stats()
	return kube.Stats{Total: after.Total - before.Total, Lists: after.Lists - before.Lists, DryRuns: after.DryRuns - before.DryRuns, Writes: after.Writes - before.Writes, Other: after.Other - before.Other}
}

// waitSettled waits until the Deployment controller has annotated the first
// n Deployments of mixedObjects with their revision: a real metadata change,
// once after creation, which the memo rightly notices. Tests counting memo
// hits start after it.
func waitSettled(t *testing.T, s *harness.Stack, n int) {
	t.Helper()
	for i := range n {
		harness.Eventually(t, 30*time.Second, "deployment revision annotation", func(ctx context.Context) error {
			d, err := s.Dynamic.Resource(deployments).Namespace(s.Def.Target.Namespace).Get(ctx, fmt.Sprintf("app-%02d", i), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if d.GetAnnotations()["deployment.kubernetes.io/revision"] == "" {
				return fmt.Errorf("not annotated yet")
			}
			return nil
		})
	}
}

func TestPlanMemo(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stack.Stack{Name: "memo", Target: stack.Target{Namespace: ns}, Prune: true})
	objs := mixedObjects(t, 30, 5)
	s.Apply(t, s.Plan(t, objs, plan.DiffAuto))
	waitSettled(t, s, 5)
	// The apply recorded the memo from what it stored: only the 5
	// Deployments, which their controller annotated since, are dry-run.
	first := s.Plan(t, objs, plan.DiffAuto)
	if first.HasChanges() || first.Stats.DryRuns != 5 || first.Stats.MemoHits != len(objs)-5 {
		t.Fatalf("first plan after apply: changes %v, %d dry-runs, %d memo hits; want none, 5 (the Deployments) and %d",
			harness.Changes(first), first.Stats.DryRuns, first.Stats.MemoHits, len(objs)-5)
	}

	var p *plan.Plan
	wire := delta(s.Kube, func() { p = s.Plan(t, objs, plan.DiffAuto) })
	if wire.DryRuns != 0 || wire.Lists != 3 || wire.Total != 3 || wire.Writes != 0 {
		t.Errorf("nothing changed: requests on the wire %+v; want exactly 3 LISTs (one per kind) and nothing else", wire)
	}
	if p.HasChanges() || p.Stats.MemoHits != len(objs) {
		t.Errorf("nothing changed: changes %v, memo hits %d of %d", harness.Changes(p), p.Stats.MemoHits, len(objs))
	}
	// The server enforces API Priority and Fairness: gantry noticed, and does
	// not rate-limit itself (client-go's default would allow 5 requests/s).
	if !s.Kube.PriorityAndFairness() {
		t.Error("the test server enforces API Priority and Fairness, but the client did not notice")
	}

	// An out-of-band edit of one object invalidates exactly that object.
	patchAs(t, s, schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "cm-007", "kubectl-edit", "",
		map[string]any{"metadata": map[string]any{"labels": map[string]any{"touched": "yes"}}})
	wire = delta(s.Kube, func() { p = s.Plan(t, objs, plan.DiffAuto) })
	if wire.DryRuns != 1 || p.Stats.MemoHits != len(objs)-1 {
		t.Errorf("one object edited: %d dry-runs, %d memo hits; want 1 and %d", wire.DryRuns, p.Stats.MemoHits, len(objs)-1)
	}
	if p.HasChanges() {
		t.Errorf("a label gantry does not own changed; the plan changes %v", harness.Changes(p))
	}
	if wire = delta(s.Kube, func() { p = s.Plan(t, objs, plan.DiffAuto) }); wire.DryRuns != 0 {
		t.Errorf("the edit was dry-run once and remembered; the next plan made %d dry-runs", wire.DryRuns)
	}
}

// TestPlanMemoSurvivesStatusChurn measures the memo's hit rate on objects
// whose status moves (every Deployment's, here): keyed by resourceVersion it
// would miss all of them; keyed by the fingerprint (live object without
// status and server bookkeeping) it misses none, while staying exact.
func TestPlanMemoSurvivesStatusChurn(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stack.Stack{Name: "churn", Target: stack.Target{Namespace: ns}, Prune: true})
	objs := mixedObjects(t, 10, 10)
	s.Apply(t, s.Plan(t, objs, plan.DiffAuto))
	ctx := context.Background()
	waitSettled(t, s, 10)
	before := s.Plan(t, objs, plan.DiffAuto)

	for i := range 10 {
		name := fmt.Sprintf("app-%02d", i)
		patchAs(t, s, deployments, name, "kube-controller-manager", "status",
			map[string]any{"status": map[string]any{"collisionCount": 7 + i}}) // a value no controller resets
		if _, err := s.Dynamic.Resource(deployments).Namespace(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	after := s.Plan(t, objs, plan.DiffAuto)
	rvMoved := 0
	for i, b := range before.Base {
		if after.Base[i].ResourceVersion != b.ResourceVersion {
			rvMoved++
		}
	}
	hitRate := float64(after.Stats.MemoHits) / float64(len(objs))
	t.Logf("status churn on %d objects: resourceVersion moved on %d; memo hit rate %.0f%% (a resourceVersion key: %.0f%%)",
		len(objs), rvMoved, hitRate*100, float64(len(objs)-rvMoved)/float64(len(objs))*100)
	if rvMoved < 10 {
		t.Fatalf("status patches moved only %d resourceVersions; the test did not churn status", rvMoved)
	}
	if after.Stats.MemoHits != len(objs) || after.Stats.DryRuns != 0 {
		t.Errorf("status-only churn: %d memo hits, %d dry-runs; want %d and 0", after.Stats.MemoHits, after.Stats.DryRuns, len(objs))
	}
}

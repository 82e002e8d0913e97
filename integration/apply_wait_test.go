package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestApplyConflicts(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	objs := parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {contested: gantry}\n")
	s := env.NewStack(t, stack.Stack{Name: "apply-conflicts", Target: stack.Target{Namespace: ns}})
	applied(t, s, objs)
	patchAs(t, s, configmaps, "shared", "kubectl-edit", "", map[string]any{"data": map[string]any{"contested": "theirs"}})
	p := s.Plan(t, objs, plan.DiffAuto)
	if _, err := s.TryApply(p, true, harness.ApplyOptions()); !errors.Is(err, apply.ErrConflicts) || !strings.Contains(err.Error(), `.data.contested (owned by "kubectl-edit")`) {
		t.Fatalf("without force: err = %v, want ErrConflicts naming the field and manager", err)
	}
	s.Def.ForceConflicts = true
	applied(t, s, objs)
	got, _ := s.Dynamic.Resource(configmaps).Namespace(ns).Get(context.Background(), "shared", metav1.GetOptions{})
	if v, _, _ := unstructured.NestedString(got.Object, "data", "contested"); v != "gantry" {
		t.Errorf("with force: value %q, want gantry's", v)
	}
}

// TestApplyWaitsForReadiness: objects not ready by the timeout fail the
// apply and keep prune from running; ready ones let it finish.
func TestApplyWaitsForReadiness(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stack.Stack{Name: "readiness", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100})
	applied(t, s, parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n"))
	objs := mixedObjects(t, 1, 1) // a Deployment, whose Pod never runs here
	opts := harness.ApplyOptions()
	opts.Wait, opts.Timeout = true, 2*time.Second
	report, err := s.TryApply(s.Plan(t, objs, plan.DiffAuto), true, opts)
	if !errors.Is(err, apply.ErrNotReady) || !strings.Contains(err.Error(), "Deployment.apps/"+ns+"/app-00 is InProgress") {
		t.Fatalf("err = %v, want ErrNotReady naming the Deployment", err)
	}
	if report.Pruned {
		t.Error("prune ran although the Deployment was not ready")
	}
	// Its controller's report of a finished rollout makes it Current.
	harness.Eventually(t, 30*time.Second, "deployment observed", func(ctx context.Context) error {
		d, err := s.Dynamic.Resource(deployments).Namespace(ns).Get(ctx, "app-00", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if g, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration"); g < 1 {
			return errors.New("not observed")
		}
		return nil
	})
	patchAs(t, s, deployments, "app-00", "kube-controller-manager", "status", map[string]any{"status": map[string]any{
		"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
		"conditions": []any{map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}},
	}})
	report, err = s.TryApply(s.Plan(t, objs, plan.DiffAuto), true, opts)
	if err != nil || !report.Pruned {
		t.Fatalf("with the Deployment ready: err = %v, pruned %v", err, report != nil && report.Pruned)
	}
	if got := results(report)["ConfigMap/"+ns+"/old"]; got != "delete deleted" {
		t.Errorf("old: %q", got)
	}
}

// TestApplyInterruptedWhileWaiting: an interruption during the readiness
// wait is recorded as an interruption, and nothing is pruned.
func TestApplyInterruptedWhileWaiting(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stack.Stack{Name: "interrupt-wait", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100})
	applied(t, s, parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n"))
	p := s.Plan(t, mixedObjects(t, 0, 1), plan.DiffAuto) // a Deployment that never becomes ready
	ctx, cancel := context.WithCancel(context.Background())
	opts := harness.ApplyOptions()
	opts.Wait, opts.Timeout = true, time.Minute
	opts.OnEvent = func(e apply.Event) {
		if e.Kind == apply.EventWaiting {
			time.AfterFunc(300*time.Millisecond, cancel)
		}
	}
	report, err := s.TryApplyContext(ctx, p, true, opts)
	if !errors.Is(err, context.Canceled) || !report.Interrupted || report.Pruned {
		t.Fatalf("err = %v, interrupted %v, pruned %v", err, report.Interrupted, report.Pruned)
	}
	var status string
	if err := queryRow(t, s, "SELECT status FROM applies WHERE plan_id = $1", p.ID).Scan(&status); err != nil || status != "interrupted" {
		t.Errorf("recorded status %q, %v; want interrupted", status, err)
	}
}

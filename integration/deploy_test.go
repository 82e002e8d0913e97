package integration

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/stack"
)

// TestDeployBase: gantry applies its own deploy/base (from a Git commit of
// it, as any stack) through the engine, and the result is what running
// gantry in a cluster needs: the Deployment running `gantry run` with its
// probes, its Secret references and its config, a ServiceAccount bound to
// its ClusterRole, a Service. Planning it again changes nothing.
func TestDeployBase(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t)
	repo.CopyDir("../deploy", "deploy")
	repo.Commit("deploy", nil)
	def := stack.Stack{Name: "gantry-self", Source: stack.Source{Repo: repo.Dir, Ref: "main", Path: "deploy/base"},
		Prune: true, MaxPrunePercent: 25, Approval: stack.ApprovalAutoUnlessDestructive, Drift: stack.DriftCorrect}
	s := env.NewStack(t, def)
	cs := env.Clientset(t)
	ctx := context.Background()
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(ctx, "gantry-system", metav1.DeleteOptions{})
		_ = cs.RbacV1().ClusterRoleBindings().Delete(ctx, "gantry", metav1.DeleteOptions{})
		_ = cs.RbacV1().ClusterRoles().Delete(ctx, "gantry", metav1.DeleteOptions{})
	})
	r := newReconciler(t, s)
	res := r.reconcile()
	expectOutcome(t, res, gate.Applied)
	if got := harness.Changes(res.Plan); len(got) != 7 {
		t.Errorf("deploy/base planned %d changes, want 7 (Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap, Service, Deployment): %v", len(got), got)
	}

	dep, err := cs.AppsV1().Deployments("gantry-system").Get(ctx, "gantry", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if pod.ServiceAccountName != "gantry" || !strings.Contains(strings.Join(c.Args, " "), "run --config=/etc/gantry/gantry.yaml --listen=:8080") {
		t.Errorf("Deployment runs %v as %q", c.Args, pod.ServiceAccountName)
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes: %v, %v", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	secrets := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secrets[e.Name] = e.ValueFrom.SecretKeyRef.Name
		}
	}
	for env, secret := range map[string]string{"GANTRY_DATABASE_URL": "gantry-database", "GANTRY_WEBHOOK_SECRET": "gantry-webhook", "GANTRY_API_TOKEN": "gantry-api"} {
		if secrets[env] != secret {
			t.Errorf("%s comes from Secret %q, want %q", env, secrets[env], secret)
		}
	}
	if !labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).Matches(labels.Set(dep.Spec.Template.Labels)) {
		t.Errorf("selector %v does not match the template's labels %v", dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels)
	}
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "gantry", metav1.GetOptions{})
	if err != nil || crb.Subjects[0].Namespace != "gantry-system" || crb.Subjects[0].Name != "gantry" {
		t.Errorf("ClusterRoleBinding = %+v, %v", crb, err)
	}
	// The shipped gantry.yaml is one gantry run accepts.
	cms, err := cs.CoreV1().ConfigMaps("gantry-system").List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/stack=gantry-self"})
	if err != nil || len(cms.Items) != 1 || !strings.HasPrefix(cms.Items[0].Name, "gantry-config-") {
		t.Fatalf("config ConfigMap: %v, %v", cms, err)
	}
	if _, err := stack.Parse("gantry.yaml", []byte(cms.Items[0].Data["gantry.yaml"])); err != nil {
		t.Errorf("the shipped gantry.yaml does not load: %v", err)
	}
	if _, err := cs.CoreV1().Services("gantry-system").Get(ctx, "gantry", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
	expectOutcome(t, r.reconcile(), gate.Unchanged)
}

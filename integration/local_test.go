package integration

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/stack"
)

// TestPlanLocal: --diff=local predicts what the server would say. Its plans
// of the hand-made cases agree with server plans on what changes, on an
// empty cluster and right after applying (equal quantities written
// differently, defaults, stringData, a CRD just created), and it shows a
// Git change.
func TestPlanLocal(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"defaults", "quantity", "service", "crd", "secret", "hpa"} {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			ns := env.Namespace(t)
			s := env.NewStack(t, stack.Stack{Name: "local-" + f, Target: stack.Target{Namespace: ns}, Prune: true})
			// The CRD is cluster-scoped: give it a group of its own so that the
			// fidelity test's edits of the same file's CRD do not meet it.
			objs := renameGroup(testdataObjects(t, filepath.Join("fidelity", f+".yaml")), "fidelity.gantry.dev", "local.gantry.dev")
			local, server := s.Plan(t, objs, plan.DiffLocal), s.Plan(t, objs, plan.DiffServer)
			if got, want := harness.Changes(local), harness.Changes(server); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("empty cluster: local %v, server %v", got, want)
			}
			if !local.Approximate || local.Stats.DryRuns != 0 || local.Stats.Predictions == 0 {
				t.Errorf("local plan: approximate %v, %d dry-runs, %d predictions", local.Approximate, local.Stats.DryRuns, local.Stats.Predictions)
			}
			s.Apply(t, server)
			if p := s.Plan(t, objs, plan.DiffLocal); p.HasChanges() {
				t.Errorf("right after applying, the local plan changes %v: %+v", harness.Changes(p), p.Changes)
			}
			AnnotateFirstObject(objs)
			if p := s.Plan(t, objs, plan.DiffLocal); len(harness.Changes(p)) != 1 {
				t.Errorf("after a Git change to one object, the local plan changes %v", harness.Changes(p))
			}
		})
	}
}

// renameGroup moves CRDs of group from, and resources of them, to group to.
func renameGroup(objs []*unstructured.Unstructured, from, to string) []*unstructured.Unstructured {
	for _, u := range objs {
		if u.GetKind() == "CustomResourceDefinition" {
			u.SetName(strings.Replace(u.GetName(), from, to, 1))
			_ = unstructured.SetNestedField(u.Object, to, "spec", "group")
		}
		u.SetAPIVersion(strings.Replace(u.GetAPIVersion(), from+"/", to+"/", 1))
	}
	return objs
}

// AnnotateFirstObject is a Git change to the first object.
func AnnotateFirstObject(objs []*unstructured.Unstructured) { harness.AnnotateFirst(1)(objs) }

// TestPlanLocalReadOnly: with credentials that may only read, a local plan
// works and sends no write and no dry-run; a server plan is refused.
func TestPlanLocalReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := env.Clientset(t)
	name := "gantry-test-read-only"
	_, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: "viewer", APIGroup: "rbac.authorization.k8s.io"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	ns := env.Namespace(t)
	objs := mixedObjects(t, 3, 1)
	admin := env.NewStack(t, stack.Stack{Name: "readonly", Target: stack.Target{Namespace: ns}, Prune: true})
	admin.Apply(t, admin.Plan(t, objs, plan.DiffAuto))
	objs[0].Object["data"] = map[string]any{"index": "changed in git"}

	viewer, err := kube.Connect(ctx, env.Cluster.ViewerConfig, kube.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	admin.Kube = viewer
	harness.Eventually(t, 30e9, "RBAC for the viewer in effect", func(context.Context) error {
		_, err := admin.TryPlan(objs, plan.DiffLocal)
		return err
	})
	var p *plan.Plan
	wire := delta(viewer, func() { p = admin.Plan(t, objs, plan.DiffLocal) })
	if got := harness.Changes(p); len(got) != 1 || !strings.Contains(got[0], "cm-000") {
		t.Errorf("read-only local plan: %v, want cm-000 updated", got)
	}
	if wire.DryRuns != 0 || wire.Writes != 0 {
		t.Errorf("a local plan sent %d dry-runs and %d writes", wire.DryRuns, wire.Writes)
	}
	var text bytes.Buffer
	_ = render.Text(&text, p, render.TextOptions{})
	if !strings.Contains(text.String(), "approximate") {
		t.Errorf("the local plan does not say it is approximate:\n%s", text.String())
	}
	if _, err := admin.TryPlan(objs, plan.DiffServer); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("server plan with read-only credentials: err = %v, want forbidden", err)
	}
}

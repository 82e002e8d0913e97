package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

// Tests of docs/security.md item 11: a plan whose apply is known, or can be
// known before its first change of a later phase, to fail is not half
// applied.

var crds = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// TestReplaceOnlyForImmutableCauses: a change the server refuses because a
// field is immutable AND for another reason is not a replace. Before, the
// plan said "must be replaced" (not destructive, applied without
// approval): the apply deleted the immutable ConfigMap, failed to create it
// again (its new key is invalid), and applied the other change; a key
// whose cause quotes "field is immutable" passed for an immutable cause
// itself. Now the plan is refused naming the other cause, and nothing
// changes.
func TestReplaceOnlyForImmutableCauses(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stackDef("replace-causes", ns))
	immutable := func(data string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: imm}\nimmutable: true\ndata: " + data + "\n"
	}
	s.Apply(t, s.Plan(t, parseObjects(t, immutable("{v: '1'}"), configMapDoc("other", "1")), plan.DiffAuto))

	// The second key's cause quotes it: "Invalid value: \"x: field is
	// immutable\": a valid config key must ...".
	for _, key := range []string{"bad key!", "x: field is immutable"} {
		p, err := s.TryPlan(parseObjects(t, immutable(fmt.Sprintf("{v: '2', '%s': x}", key)), configMapDoc("other", "2")), plan.DiffAuto)
		if err == nil {
			report, aerr := s.TryApply(p, false, harness.ApplyOptions())
			t.Fatalf("key %q: planned %v and applied it (%v, %v); want the plan refused naming the invalid key", key, harness.Changes(p), outcomes(report), aerr)
		}
		for _, want := range []string{"ConfigMap/" + ns + "/imm", "data[" + key + "]: Invalid value", "cannot be replaced", "plan again"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("key %q: the refusal does not say %q: %v", key, want, err)
			}
		}
		wantLive(t, ns, "replace-causes", map[string]string{"imm": "1", "other": "1"})
	}

	// Immutable causes alone still make a replace, which then succeeds.
	p := s.Plan(t, parseObjects(t, immutable("{v: '2'}"), configMapDoc("other", "2")), plan.DiffAuto)
	if got := results(s.Apply(t, p)); got["ConfigMap/"+ns+"/imm"] != "replace replaced" {
		t.Errorf("outcomes: %v, want imm replaced", got)
	}
	wantLive(t, ns, "replace-causes", map[string]string{"imm": "2", "other": "2"})
}

// TestCRDVersionNotServed: a custom resource of a version its CRD (in the
// plan) does not serve is a plan-time error. Before, it was planned as
// verified at apply: the apply created the CRD and a ConfigMap, then failed
// on the resource ("no matches for kind").
func TestCRDVersionNotServed(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	group := "notserved-" + strings.TrimPrefix(ns, "test-") + ".gantry.dev"
	crd := fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
  - {name: v2, served: false, storage: false, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
`, group)
	widget := fmt.Sprintf("apiVersion: %s/v2\nkind: Widget\nmetadata: {name: w}\nspec: {a: 1}\n", group)
	s := env.NewStack(t, stackDef("not-served", ns))
	p, err := s.TryPlan(parseObjects(t, crd, configMapDoc("c", "1"), widget), plan.DiffAuto)
	if err == nil {
		report, aerr := s.TryApply(p, false, harness.ApplyOptions())
		t.Fatalf("planned %v and applied it (%v, %v); want the plan refused", harness.Changes(p), outcomes(report), aerr)
	}
	for _, want := range []string{"Widget." + group + "/w", "v2", "served: false", "widgets." + group} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
}

// TestPendingObjectFailsBeforeLaterPhases: objects the server could not
// check at plan time (in a Namespace the plan creates) are dry-run right
// after that Namespace is created; one the server refuses stops the apply
// before any change of a later phase: no CRD, no ConfigMap, no prune. The
// Namespace made is said and on record. Before, the Namespace, the CRD and
// the valid ConfigMaps were created, then the invalid one failed.
func TestPendingObjectFailsBeforeLaterPhases(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	fresh := "pending-" + strings.TrimPrefix(ns, "test-")
	group := fresh + ".gantry.dev"
	ctx := context.Background()
	cs := env.Clientset(t)
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), fresh, metav1.DeleteOptions{}) })
	s := env.NewStack(t, stack.Stack{Name: "pending-ns", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100})
	s.Apply(t, s.Plan(t, parseObjects(t, configMapDoc("old", "1")), plan.DiffAuto))

	objs := parseObjects(t,
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: "+fresh+"}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good, namespace: "+fresh+"}\ndata: {v: '1'}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad, namespace: "+fresh+"}\ndata: {'bad key!': '1'}\n",
		configMapDoc("beside", "1"),
	)
	objs = append(objs, renameGroup(testdataObjects(t, "fidelity/crd.yaml"), "fidelity.gantry.dev", group)[:1]...)
	p := s.Plan(t, objs, plan.DiffAuto)
	report, err := s.TryApply(p, false, harness.ApplyOptions())
	if err == nil {
		t.Fatalf("applied: %v", outcomes(report))
	}
	for _, want := range []string{"ConfigMap/" + fresh + "/bad", "bad key!", "could not be checked at plan time", "Namespace/" + fresh} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the apply's error does not say %q: %v", want, err)
		}
	}
	want := map[string]string{
		"Namespace/" + fresh:                                             "create applied",
		"ConfigMap/" + fresh + "/good":                                   "create skipped",
		"ConfigMap/" + fresh + "/bad":                                    "create failed",
		"ConfigMap/" + ns + "/beside":                                    "create skipped",
		"ConfigMap/" + ns + "/old":                                       "delete skipped",
		"CustomResourceDefinition.apiextensions.k8s.io/widgets." + group: "create skipped",
	}
	if got := outcomes(report); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outcomes:\n got %v\nwant %v", got, want)
	}
	for _, name := range []string{"good", "bad"} {
		if _, err := cs.CoreV1().ConfigMaps(fresh).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s/%s exists (%v)", fresh, name, err)
		}
	}
	if _, err := s.Dynamic.Resource(crds).Get(ctx, "widgets."+group, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the CRD of a later phase was created (%v)", err)
	}
	wantLive(t, ns, "pending-ns", map[string]string{"old": "1"})
	var result, msg string
	if err := queryRow(t, s, `SELECT o.outcome, coalesce(o.error, '') FROM apply_outcomes o JOIN applies a ON a.id = o.apply_id WHERE a.plan_id = $1 AND o.name = 'bad'`, p.ID).Scan(&result, &msg); err != nil || result != "failed" || !strings.Contains(msg, "bad key!") {
		t.Errorf("recorded outcome of bad: %q %q %v", result, msg, err)
	}
}

// TestPendingCustomResourceFailsBeforeLaterPhases: a custom resource whose
// CRD the plan creates is dry-run once the CRD is established; one the
// schema refuses stops the apply before cluster-scoped RBAC and the other
// objects. Before, they were created, then the resource failed.
func TestPendingCustomResourceFailsBeforeLaterPhases(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	group := "pendingcr-" + strings.TrimPrefix(ns, "test-") + ".gantry.dev"
	role := "pendingcr-" + strings.TrimPrefix(ns, "test-")
	ctx := context.Background()
	cs := env.Clientset(t)
	t.Cleanup(func() { _ = cs.RbacV1().ClusterRoles().Delete(context.Background(), role, metav1.DeleteOptions{}) })
	s := env.NewStack(t, stack.Stack{Name: "pending-cr", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100})
	objs := renameGroup(testdataObjects(t, "fidelity/crd.yaml"), "fidelity.gantry.dev", group)
	_ = unstructured.SetNestedField(objs[1].Object, "three", "spec", "size")
	objs = append(objs, parseObjects(t, configMapDoc("fine", "1"),
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: "+role+"}\nrules: []\n")...)
	p := s.Plan(t, objs, plan.DiffAuto)
	report, err := s.TryApply(p, false, harness.ApplyOptions())
	if err == nil || !strings.Contains(err.Error(), "Widget."+group+"/"+ns+"/first") || !strings.Contains(err.Error(), "spec.size") {
		t.Fatalf("err = %v, want one naming the Widget and its invalid field", err)
	}
	want := map[string]string{
		"CustomResourceDefinition.apiextensions.k8s.io/widgets." + group: "create applied",
		"Widget." + group + "/" + ns + "/first":                          "create failed",
		"ConfigMap/" + ns + "/fine":                                      "create skipped",
		"ClusterRole.rbac.authorization.k8s.io/" + role:                  "create skipped",
	}
	if got := outcomes(report); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outcomes:\n got %v\nwant %v", got, want)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "fine", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap fine exists (%v)", err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRole %s exists (%v)", role, err)
	}
}

// outcomes is results of a report that may be nil.
func outcomes(r *apply.Report) map[string]string {
	if r == nil {
		return nil
	}
	return results(r)
}

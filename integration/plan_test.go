package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/stack"
)

var configmaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// without returns objs minus those whose "Kind/name" is listed.
func without(objs []*unstructured.Unstructured, drop ...string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range objs {
		if !slices.Contains(drop, u.GetKind()+"/"+u.GetName()) {
			out = append(out, u)
		}
	}
	return out
}

func TestPlanPruneAndDestructive(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	own := "destroy-" + ns // a Namespace of the stack's own
	docs := []string{
		fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", own),
		"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
	}
	for i := range 10 {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {i: \"%d\"}\n", i, i))
	}
	all := parseObjects(t, docs...)
	s := env.NewStack(t, stack.Stack{Name: "prune", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 25})
	s.Apply(t, s.Plan(t, all, plan.DiffAuto))

	for _, tc := range []struct {
		name        string
		drop        []string
		deletes     []string
		destructive []string
	}{
		{"one of twelve", []string{"ConfigMap/cm-0"}, []string{"delete ConfigMap/" + ns + "/cm-0"}, nil},
		{"a third of the inventory", []string{"ConfigMap/cm-0", "ConfigMap/cm-1", "ConfigMap/cm-2", "ConfigMap/cm-3"},
			[]string{"delete ConfigMap/" + ns + "/cm-0", "delete ConfigMap/" + ns + "/cm-1", "delete ConfigMap/" + ns + "/cm-2", "delete ConfigMap/" + ns + "/cm-3"},
			[]string{"deletes 4 of 12 inventory objects (33%), more than maxPrunePercent 25%"}},
		{"a PersistentVolumeClaim", []string{"PersistentVolumeClaim/data"}, []string{"delete PersistentVolumeClaim/" + ns + "/data"},
			[]string{"deletes PersistentVolumeClaim/" + ns + "/data"}},
		{"a Namespace", []string{"Namespace/" + own}, []string{"delete Namespace/" + own}, []string{"deletes Namespace/" + own}},
	} {
		p := s.Plan(t, without(all, tc.drop...), plan.DiffAuto)
		if diff := cmp.Diff(tc.deletes, harness.Changes(p)); diff != "" {
			t.Errorf("%s: changes (-want +got)\n%s", tc.name, diff)
		}
		if diff := cmp.Diff(tc.destructive, p.Destructive); diff != "" {
			t.Errorf("%s: destructive reasons (-want +got)\n%s", tc.name, diff)
		}
	}

	// An empty revision would delete everything: refused unless allowEmpty.
	if _, err := s.TryPlan(nil, plan.DiffAuto); err == nil || !strings.Contains(err.Error(), "allowEmpty") {
		t.Errorf("empty revision: err = %v, want a refusal naming allowEmpty", err)
	}
	s.Def.AllowEmpty = true
	p := s.Plan(t, nil, plan.DiffAuto)
	if _, _, destroy := p.Summary(); destroy != 12 || !slices.ContainsFunc(p.Destructive, func(r string) bool { return strings.Contains(r, "renders no objects") }) {
		t.Errorf("empty revision with allowEmpty: %d deletes, reasons %v", destroy, p.Destructive)
	}
	s.Def.AllowEmpty = false

	// Objects gantry must not prune: one relabelled by someone else, one
	// annotated prune: disabled; and nothing at all with prune off.
	patch := func(name string, md map[string]any) {
		body, _ := json.Marshal(map[string]any{"metadata": md})
		if _, err := s.Dynamic.Resource(configmaps).Namespace(ns).Patch(context.Background(), name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatal(err)
		}
	}
	patch("cm-8", map[string]any{"labels": map[string]any{plan.StackLabel: "someone-else"}})
	patch("cm-9", map[string]any{"annotations": map[string]any{plan.PruneAnnotation: "disabled"}})
	p = s.Plan(t, without(all, "ConfigMap/cm-8", "ConfigMap/cm-9"), plan.DiffAuto)
	if p.HasChanges() {
		t.Errorf("protected objects: changes %v, want none", harness.Changes(p))
	}
	var kept []string
	for _, c := range p.Changes {
		if c.Reason != "" {
			kept = append(kept, c.Ref.Name+": "+c.Reason)
		}
	}
	want := []string{
		"cm-8: no longer rendered; kept because it is not labelled gantry.dev/stack=prune (someone else took it over)",
		"cm-9: no longer rendered; kept because it is annotated gantry.dev/prune: disabled",
	}
	if diff := cmp.Diff(want, kept); diff != "" {
		t.Errorf("kept objects (-want +got)\n%s", diff)
	}
	s.Def.Prune = false
	p = s.Plan(t, without(all, "ConfigMap/cm-0", "ConfigMap/cm-8", "ConfigMap/cm-9"), plan.DiffAuto)
	if p.HasChanges() {
		t.Errorf("prune off: changes %v, want none", harness.Changes(p))
	}
	if !slices.ContainsFunc(p.Changes, func(c plan.Change) bool {
		return c.Ref.Name == "cm-0" && strings.Contains(c.Reason, "prune is off")
	}) {
		t.Error("prune off: cm-0 is not reported as kept because prune is off")
	}
}

func TestPlanConflicts(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	objs := parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {mine: \"1\", contested: \"gantry\"}\n")
	s := env.NewStack(t, stack.Stack{Name: "conflicts", Target: stack.Target{Namespace: ns}, Prune: true})
	s.Apply(t, s.Plan(t, objs, plan.DiffAuto))

	// Another manager takes the field over with a forced server-side apply.
	force := true
	body := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared"},"data":{"contested":"other"}}`)
	if _, err := s.Dynamic.Resource(configmaps).Namespace(ns).Patch(context.Background(), "shared", types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "team-b", Force: &force}); err != nil {
		t.Fatal(err)
	}
	p := s.Plan(t, objs, plan.DiffAuto)
	if got := harness.Changes(p); len(got) != 1 || got[0] != "update ConfigMap/"+ns+"/shared" {
		t.Fatalf("changes %v, want the ConfigMap updated", got)
	}
	want := []plan.Conflict{{Field: ".data.contested", Manager: "team-b"}}
	if diff := cmp.Diff(want, p.Changes[0].Conflicts); diff != "" {
		t.Errorf("conflicts (-want +got)\n%s", diff)
	}
	if len(p.Conflicted()) != 1 {
		t.Error("without forceConflicts the conflict must block the apply")
	}
	var text bytes.Buffer
	if err := render.Text(&text, p, render.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`! .data.contested is owned by field manager "team-b"`, "forceConflicts: true", `+   contested: gantry`} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text plan lacks %q:\n%s", w, text.String())
		}
	}
	s.Def.ForceConflicts = true
	if p = s.Plan(t, objs, plan.DiffAuto); len(p.Changes[0].Conflicts) != 1 || len(p.Conflicted()) != 0 {
		t.Errorf("forceConflicts: conflicts %v, blocking %d; want the conflict shown, not blocking", p.Changes[0].Conflicts, len(p.Conflicted()))
	}
}

func TestPlanReplace(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	svc := func(ip string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: fixed}\nspec: {clusterIP: %s, ports: [{port: 80}]}\n", ip)
	}
	job := func(image string) string {
		return fmt.Sprintf("apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: %q}]}}}\n", image)
	}
	pvc := func(class string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {storageClassName: %s, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n", class)
	}
	// A free address in the /12 service range, unique to this namespace.
	ip := func(last int) string { return fmt.Sprintf("10.%d.%d.%d", 100+len(ns)%10, len(ns), last) }
	s := env.NewStack(t, stack.Stack{Name: "replace", Target: stack.Target{Namespace: ns}, Prune: true})
	s.Apply(t, s.Plan(t, parseObjects(t, svc(ip(10)), job("busybox:1.36"), pvc("slow")), plan.DiffAuto))

	p := s.Plan(t, parseObjects(t, svc(ip(11)), job("busybox:1.37"), pvc("fast")), plan.DiffAuto)
	got := map[string]string{}
	for _, c := range p.Changes {
		got[c.Ref.Kind] = string(c.Action) + ": " + c.Reason
	}
	for kind, field := range map[string]string{"Service": "spec.clusterIP", "Job": "spec.template", "PersistentVolumeClaim": "spec"} {
		if !strings.HasPrefix(got[kind], "replace: "+field) || !strings.Contains(got[kind], "immutable") {
			t.Errorf("%s: %q, want a replace naming %s as immutable", kind, got[kind], field)
		}
	}
	if add, _, destroy := p.Summary(); add != 3 || destroy != 3 {
		t.Errorf("summary: %d to add, %d to destroy; a replace counts as one of each", add, destroy)
	}
	if !slices.Contains(p.Destructive, "replaces (deletes and recreates) PersistentVolumeClaim/"+ns+"/data") {
		t.Errorf("replacing a PVC loses its data and must be destructive: %v", p.Destructive)
	}
	var text bytes.Buffer
	_ = render.Text(&text, p, render.TextOptions{})
	if !strings.Contains(text.String(), "-/+ Service/"+ns+"/fixed") || !strings.Contains(text.String(), "must be replaced") {
		t.Errorf("text plan does not show the replace:\n%s", text.String())
	}

	s.Apply(t, p)
	if after := s.Plan(t, parseObjects(t, svc(ip(11)), job("busybox:1.37"), pvc("fast")), plan.DiffAuto); after.HasChanges() {
		t.Errorf("after replacing, the plan changes %v", harness.Changes(after))
	}
}

func TestPlanStale(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	objs := mixedObjects(t, 3, 1)
	s := env.NewStack(t, stack.Stack{Name: "stale", Target: stack.Target{Namespace: ns}, Prune: true})
	s.Apply(t, s.Plan(t, objs, plan.DiffAuto))
	objs[0].Object["data"] = map[string]any{"index": "changed"}
	p := s.Plan(t, objs, plan.DiffAuto)

	// Round-trip through a planfile, as `gantry plan --out` + `gantry apply FILE`.
	var file bytes.Buffer
	if err := planfile.Write(&file, p); err != nil {
		t.Fatal(err)
	}
	saved, err := s.Engine.ReadPlanfile(context.Background(), &file)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Store.EnsureStack(context.Background(), s.Def.Name)
	if err != nil {
		t.Fatal(err)
	}
	verify := func() error {
		return plan.Verify(context.Background(), s.Kube, saved, st.HashKey, saved.InventoryGeneration)
	}
	if err := verify(); err != nil {
		t.Fatalf("a fresh plan is stale: %v", err)
	}
	// Status moving does not make a plan stale.
	patchAs(t, s, deployments, "app-00", "kube-controller-manager", "status", map[string]any{"status": map[string]any{"collisionCount": 3}})
	if err := verify(); err != nil {
		t.Errorf("status-only change made the plan stale: %v", err)
	}
	// An out-of-band edit does, naming the object.
	patchAs(t, s, configmaps, "cm-002", "kubectl-edit", "", map[string]any{"data": map[string]any{"index": "edited"}})
	err = verify()
	var stale *plan.StaleError
	if !errors.Is(err, plan.ErrPlanStale) || !errors.As(err, &stale) {
		t.Fatalf("after an edit: err = %v, want ErrPlanStale", err)
	}
	if len(stale.Moved) != 1 || stale.Moved[0].Ref.Name != "cm-002" || !strings.Contains(err.Error(), "ConfigMap/"+ns+"/cm-002 was changed") {
		t.Errorf("stale error %q should name exactly ConfigMap cm-002", err)
	}
	// So does a deleted object, and another apply having moved the inventory.
	if err := s.Dynamic.Resource(configmaps).Namespace(ns).Delete(context.Background(), "cm-001", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = plan.Verify(context.Background(), s.Kube, saved, st.HashKey, saved.InventoryGeneration+1)
	for _, w := range []string{"cm-001 was deleted", "inventory moved from generation", "run gantry plan again"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("stale error %v does not say %q", err, w)
		}
	}
}

package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// results maps each outcome to "action result".
func results(r *apply.Report) map[string]string {
	out := map[string]string{}
	for _, o := range r.Outcomes {
		out[o.Ref.String()] = string(o.Action) + " " + string(o.Result)
	}
	return out
}

// applied plans objs, applies the plan, and checks that the next plan is empty.
func applied(t *testing.T, s *harness.Stack, objs []*unstructured.Unstructured) (*plan.Plan, *apply.Report) {
	t.Helper()
	p := s.Plan(t, objs, plan.DiffAuto)
	r := s.Apply(t, p)
	if next := s.Plan(t, objs, plan.DiffServer); next.HasChanges() {
		t.Fatalf("right after applying, the plan changes %v", harness.Changes(next))
	}
	return p, r
}

func TestApplyLifecycle(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stack.Stack{Name: "lifecycle", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 50})
	svc := func(ip string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: fixed}\nspec: {clusterIP: %s, ports: [{port: 80}]}\n", ip)
	}
	ip := func(last int) string { return fmt.Sprintf("10.%d.%d.%d", 110+len(ns)%10, len(ns), last) }
	cm := func(name, v string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {v: %q}\n", name, v)
	}

	_, r := applied(t, s, parseObjects(t, cm("a", "1"), cm("b", "1"), svc(ip(20))))
	want := map[string]string{"ConfigMap/" + ns + "/a": "create applied", "ConfigMap/" + ns + "/b": "create applied", "Service/" + ns + "/fixed": "create applied"}
	if diff := cmp.Diff(want, results(r)); diff != "" {
		t.Errorf("create (-want +got)\n%s", diff)
	}
	_, r = applied(t, s, parseObjects(t, cm("a", "2"), cm("b", "1"), svc(ip(20))))
	if diff := cmp.Diff(map[string]string{"ConfigMap/" + ns + "/a": "update applied"}, results(r)); diff != "" {
		t.Errorf("update (-want +got)\n%s", diff)
	}
	before, _ := s.Dynamic.Resource(services).Namespace(ns).Get(context.Background(), "fixed", metav1.GetOptions{})
	_, r = applied(t, s, parseObjects(t, cm("a", "2"), cm("b", "1"), svc(ip(21))))
	if diff := cmp.Diff(map[string]string{"Service/" + ns + "/fixed": "replace replaced"}, results(r)); diff != "" {
		t.Errorf("replace (-want +got)\n%s", diff)
	}
	after, _ := s.Dynamic.Resource(services).Namespace(ns).Get(context.Background(), "fixed", metav1.GetOptions{})
	if after.GetUID() == before.GetUID() {
		t.Error("the Service was not recreated")
	}
	_, r = applied(t, s, parseObjects(t, cm("a", "2"), svc(ip(21))))
	if diff := cmp.Diff(map[string]string{"ConfigMap/" + ns + "/b": "delete deleted"}, results(r)); diff != "" {
		t.Errorf("prune (-want +got)\n%s", diff)
	}
	if _, err := s.Dynamic.Resource(configmaps).Namespace(ns).Get(context.Background(), "b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pruned ConfigMap b: %v", err)
	}
	_, inv, _ := s.Store.Inventory(context.Background(), "lifecycle")
	if len(inv) != 2 {
		t.Errorf("inventory after prune: %v, want a and fixed", inv)
	}
}

func TestApplySavedPlanAfterGitMoved(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stack.Stack{Name: "saved", Target: stack.Target{Namespace: ns}, Prune: true})
	v1 := parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: \"1\"}\n")
	saved := s.Plan(t, v1, plan.DiffAuto)
	// Git moves on and is planned (not applied): the saved plan still applies exactly v1.
	s.Plan(t, parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: \"2\"}\n"), plan.DiffAuto)
	loaded, err := s.Engine.LoadPlan(context.Background(), saved.ID)
	if err != nil {
		t.Fatal(err)
	}
	s.Apply(t, loaded)
	got, _ := s.Dynamic.Resource(configmaps).Namespace(ns).Get(context.Background(), "a", metav1.GetOptions{})
	if v, _, _ := unstructured.NestedString(got.Object, "data", "v"); v != "1" {
		t.Errorf("applied value %q, want the saved plan's 1", v)
	}
}

func TestApplyRefusesStalePlans(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stack.Stack{Name: "stale-apply", Target: stack.Target{Namespace: ns}, Prune: true})
	objs := mixedObjects(t, 3, 0)
	applied(t, s, objs)
	objs[0].Object["data"] = map[string]any{"index": "v2"}
	extra := parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late}\n")[0]
	p := s.Plan(t, append(slices.Clone(objs), extra), plan.DiffAuto)

	// Out of band: one object edited, one deleted, and the planned-new one created.
	patchAs(t, s, configmaps, "cm-001", "kubectl-edit", "", map[string]any{"data": map[string]any{"index": "edited"}})
	if err := s.Dynamic.Resource(configmaps).Namespace(ns).Delete(context.Background(), "cm-002", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	late := extra.DeepCopy()
	late.SetNamespace(ns)
	if _, err := s.Dynamic.Resource(configmaps).Namespace(ns).Create(context.Background(), late, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.TryApply(p, true, harness.ApplyOptions())
	if !errors.Is(err, plan.ErrPlanStale) {
		t.Fatalf("err = %v, want ErrPlanStale", err)
	}
	for _, w := range []string{"cm-001 was changed", "cm-002 was deleted", "late was created", "nothing was changed"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q: %v", w, err)
		}
	}
	got, _ := s.Dynamic.Resource(configmaps).Namespace(ns).Get(context.Background(), "cm-000", metav1.GetOptions{})
	if v, _, _ := unstructured.NestedString(got.Object, "data", "index"); v != "0" {
		t.Errorf("a refused plan wrote cm-000: %q", v)
	}
	if n := countRows(t, s, "audit_events", "kind = 'apply.refused'"); n != 1 {
		t.Errorf("apply.refused events: %d", n)
	}
}

func TestApplyInterrupted(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stack.Stack{Name: "interrupt", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100})
	old := parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n")
	applied(t, s, old)
	objs := mixedObjects(t, 40, 0) // "old" is dropped: a prune candidate
	p := s.Plan(t, objs, plan.DiffAuto)

	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	done := 0
	opts := harness.ApplyOptions()
	opts.Concurrency = 2
	opts.OnEvent = func(e apply.Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Kind == apply.EventDone {
			if done++; done == 5 {
				cancel()
			}
		}
	}
	report, err := s.TryApplyContext(ctx, p, true, opts)
	if !errors.Is(err, context.Canceled) || report == nil || !report.Interrupted {
		t.Fatalf("err = %v, report interrupted %v; want an interruption", err, report != nil && report.Interrupted)
	}
	appliedN := 0
	for _, o := range report.Outcomes {
		if o.Result == apply.ResultApplied {
			appliedN++
		}
		if o.Result == apply.ResultDeleted {
			t.Errorf("%s was pruned by an interrupted apply", o.Ref)
		}
	}
	if appliedN < 5 || appliedN >= len(objs) {
		t.Errorf("%d objects applied before the interruption, want at least 5 and not all %d", appliedN, len(objs))
	}
	var status string
	if err := queryRow(t, s, "SELECT status FROM applies WHERE plan_id = $1", p.ID).Scan(&status); err != nil || status != "interrupted" {
		t.Errorf("apply status %q, %v; want interrupted", status, err)
	}
	if n := countRows(t, s, "apply_outcomes o JOIN applies a ON a.id = o.apply_id", fmt.Sprintf("a.plan_id = '%s' AND o.outcome = 'applied'", p.ID)); n != appliedN {
		t.Errorf("recorded %d applied outcomes, want %d", n, appliedN)
	}
	// The inventory kept "old" and grew by every object created: nothing
	// that exists is forgotten (an object in flight may exist although its
	// answer never came back).
	_, inv, _ := s.Store.Inventory(context.Background(), "interrupt")
	inInventory := map[string]bool{}
	for _, o := range inv {
		inInventory[o.Ref.Name] = true
	}
	live, err := env.Clientset(t).CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exist := 0
	for _, cm := range live.Items {
		if cm.Labels[plan.StackLabel] != "interrupt" {
			continue
		}
		if cm.Name != "old" {
			exist++
		}
		if !inInventory[cm.Name] {
			t.Errorf("ConfigMap %s exists but is not in the inventory", cm.Name)
		}
	}
	// The next plan repairs it: creates the rest, prunes old.
	next := s.Plan(t, objs, plan.DiffAuto)
	add, _, destroy := next.Summary()
	if add != len(objs)-exist || destroy != 1 {
		t.Errorf("repair plan: %d to add, %d to destroy; want %d and 1", add, destroy, len(objs)-exist)
	}
	s.Apply(t, next)
	if after := s.Plan(t, objs, plan.DiffServer); after.HasChanges() {
		t.Errorf("after the repair: %v", harness.Changes(after))
	}
}

func TestApplyFailedObject(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := env.NewStack(t, stack.Stack{Name: "failure", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100})
	applied(t, s, parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n"))
	// The custom resource cannot be checked at plan time (its CRD is new) and
	// breaks the CRD's schema: it fails at apply, once the CRD is there and
	// before anything else is made.
	objs := renameGroup(testdataObjects(t, "fidelity/crd.yaml"), "fidelity.gantry.dev", "failure.gantry.dev")
	_ = unstructured.SetNestedField(objs[1].Object, "three", "spec", "size")
	objs = append(objs, parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n")...)
	p := s.Plan(t, objs, plan.DiffAuto)
	report, err := s.TryApply(p, true, harness.ApplyOptions())
	if err == nil || !strings.Contains(err.Error(), "Widget.failure.gantry.dev/"+ns+"/first") || !strings.Contains(err.Error(), "spec.size") {
		t.Fatalf("err = %v, want one naming the Widget and its invalid field", err)
	}
	got := results(report)
	if got["CustomResourceDefinition.apiextensions.k8s.io/widgets.failure.gantry.dev"] != "create applied" || got["ConfigMap/"+ns+"/fine"] != "create skipped" ||
		got["Widget.failure.gantry.dev/"+ns+"/first"] != "create failed" || got["ConfigMap/"+ns+"/old"] != "delete skipped" {
		t.Errorf("outcomes: %v", got)
	}
	if _, err := s.Dynamic.Resource(configmaps).Namespace(ns).Get(context.Background(), "old", metav1.GetOptions{}); err != nil {
		t.Errorf("prune ran after a failure: %v", err)
	}
	var status, msg string
	if err := queryRow(t, s, "SELECT status, error FROM applies WHERE plan_id = $1", p.ID).Scan(&status, &msg); err != nil || status != "failed" || !strings.Contains(msg, "spec.size") {
		t.Errorf("recorded apply: %q %q %v", status, msg, err)
	}
}

func TestApplyLocking(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	first := env.NewStack(t, stack.Stack{Name: "locking", Target: stack.Target{Namespace: ns}, Prune: true})
	second := env.NewStackOn(t, first.Def, first.DSN)
	objs := mixedObjects(t, 3, 0)
	p1 := first.Plan(t, objs, plan.DiffAuto)

	// Hold the first apply inside its work until the second has tried.
	release, entered := make(chan struct{}), make(chan struct{})
	opts := harness.ApplyOptions()
	var once sync.Once
	opts.OnEvent = func(e apply.Event) {
		if e.Kind == apply.EventStarted {
			once.Do(func() { close(entered); <-release })
		}
	}
	errc := make(chan error, 1)
	go func() { _, err := first.TryApply(p1, true, opts); errc <- err }()
	<-entered

	p2 := second.Plan(t, objs, plan.DiffAuto)
	start := time.Now()
	_, err := second.Engine.Apply(context.Background(), engineRequest(second, p2, 400*time.Millisecond))
	var locked *state.LockedError
	if !errors.As(err, &locked) || locked.Holder == nil || locked.Holder.PlanID != p1.ID {
		t.Errorf("second apply: err = %v, want LockedError naming plan %s", err, p1.ID)
	}
	if waited := time.Since(start); waited < 350*time.Millisecond {
		t.Errorf("--lock-timeout 400ms gave up after %s", waited)
	}
	// Another stack applies meanwhile.
	other := env.NewStack(t, stack.Stack{Name: "locking-other", Target: stack.Target{Namespace: ns}})
	other.Apply(t, other.Plan(t, parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n"), plan.DiffAuto))
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("first apply: %v", err)
	}
}

func TestApplyRefusesDestructiveWithoutApproval(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	own := "destr-apply-" + strings.TrimPrefix(ns, "test-")
	objs := parseObjects(t,
		fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", own),
		"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
	)
	objs = append(objs, renameGroup(testdataObjects(t, "fidelity/crd.yaml"), "fidelity.gantry.dev", "destr.gantry.dev")[:1]...)
	objs = append(objs, mixedObjects(t, 5, 0)...)
	s := env.NewStack(t, stack.Stack{Name: "destr-apply", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 25})
	applied(t, s, objs)
	for _, tc := range []struct {
		name string
		keep []*unstructured.Unstructured
	}{
		{"the Namespace", without(objs, "Namespace/"+own)},
		{"the PVC", without(objs, "PersistentVolumeClaim/data")},
		{"the CRD", without(objs, "CustomResourceDefinition/widgets.destr.gantry.dev")},
		{"mass deletion", without(objs, "ConfigMap/cm-000", "ConfigMap/cm-001", "ConfigMap/cm-002")},
	} {
		p := s.Plan(t, tc.keep, plan.DiffAuto)
		if len(p.Destructive) == 0 {
			t.Fatalf("%s: plan not destructive", tc.name)
		}
		if _, err := s.TryApply(p, false, harness.ApplyOptions()); !errors.Is(err, apply.ErrNotApproved) {
			t.Errorf("%s: err = %v, want ErrNotApproved", tc.name, err)
		}
	}
	s.Def.AllowEmpty = true
	empty := s.Plan(t, nil, plan.DiffAuto)
	if _, err := s.TryApply(empty, false, harness.ApplyOptions()); !errors.Is(err, apply.ErrNotApproved) {
		t.Errorf("empty revision: err = %v, want ErrNotApproved", err)
	}
	if p := s.Plan(t, objs, plan.DiffServer); p.HasChanges() {
		t.Errorf("refused plans changed the cluster: %v", harness.Changes(p))
	}
}

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
)

func inventoryNames(t *testing.T, s *harness.Stack) []string {
	t.Helper()
	_, inv, err := s.Store.Inventory(context.Background(), s.Def.Name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range inv {
		out = append(out, o.Ref.Name)
	}
	return out
}

func outcomeOf(r *apply.Report, name string) apply.Outcome {
	for _, o := range r.Outcomes {
		if o.Ref.Name == name {
			return o
		}
	}
	return apply.Outcome{}
}

func cmDocs(t *testing.T, names ...string) []*unstructured.Unstructured {
	var docs []string
	for _, n := range names {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {v: \"1\"}\n", n))
	}
	return parseObjects(t, docs...)
}

// TestPruneHeldByFinalizer: a prune the server accepts but a finalizer
// holds is reported, keeps the object in the inventory, and is retried by
// the next plan until the object is gone; nothing is forgotten.
func TestPruneHeldByFinalizer(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	def := stackDef("finalizer", ns)
	def.MaxPrunePercent = 100
	s := env.NewStack(t, def)
	ctx := context.Background()
	s.Apply(t, s.Plan(t, cmDocs(t, "a", "b"), plan.DiffAuto))
	cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
	b, err := cms.Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Finalizers = []string{"gantry.dev/test-hold"}
	if _, err := cms.Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	report := s.Apply(t, s.Plan(t, cmDocs(t, "a"), plan.DiffAuto))
	if o := outcomeOf(report, "b"); o.Result != apply.ResultTerminating {
		t.Fatalf("prune of b held by a finalizer: %+v, want terminating", o)
	}
	if got := inventoryNames(t, s); fmt.Sprint(got) != "[a b]" {
		t.Errorf("inventory = %v, want b kept while it is held", got)
	}
	// The event feed says what the prune did with b, in the apply's
	// transaction.
	events, err := s.Store.AuditLog(ctx, "finalizer", 0)
	if err != nil {
		t.Fatal(err)
	}
	pruned := 0
	for _, e := range events {
		if e.Kind == event.ObjectPruned && e.ApplyID != "" && e.Details["object"] == "ConfigMap/"+ns+"/b" && e.Details["result"] == "terminating" {
			pruned++
		}
	}
	if pruned != 1 {
		t.Errorf("%d object.pruned events for b (terminating), want 1: %+v", pruned, events)
	}
	entries, err := s.Store.History(ctx, "finalizer", 1)
	if err != nil || entries[0].Status != state.ApplySucceeded {
		t.Errorf("the apply: %+v, %v; want succeeded (the delete was accepted)", entries, err)
	}
	if got := harness.Changes(s.Plan(t, cmDocs(t, "a"), plan.DiffAuto)); fmt.Sprint(got) != "[delete ConfigMap/"+ns+"/b]" {
		t.Errorf("the next plan = %v, want b deleted again", got)
	}

	b, err = cms.Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Finalizers = nil
	if _, err := cms.Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 10*time.Second, "b gone", harness.Gone(func(ctx context.Context) error {
		_, err := cms.Get(ctx, "b", metav1.GetOptions{})
		return err
	}))
	// Gone, b is nothing to delete; the next apply leaves it out of the
	// inventory.
	if got := harness.Changes(s.Plan(t, cmDocs(t, "a"), plan.DiffAuto)); len(got) != 0 {
		t.Errorf("plan after b went = %v, want no changes", got)
	}
	s.Apply(t, s.Plan(t, parseObjects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: \"2\"}\n"), plan.DiffAuto))
	if got := inventoryNames(t, s); fmt.Sprint(got) != "[a]" {
		t.Errorf("inventory = %v after the next apply, want [a]", got)
	}
}

// TestPruneForbidden: a prune RBAC forbids fails, on record, with the
// server's reason; the object stays in the inventory and in the cluster, and
// the next plan (with rights) deletes it.
func TestPruneForbidden(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	def := stackDef("forbidden", ns)
	def.MaxPrunePercent = 100
	s := env.NewStack(t, def)
	ctx := context.Background()
	s.Apply(t, s.Plan(t, cmDocs(t, "a", "b"), plan.DiffAuto))

	limited := limitedCluster(t, ns, []string{"get", "list", "watch", "create", "update", "patch"})
	p, err := s.Engine.PlanRevision(ctx, engine.PlanRequest{Stack: s.Def, Cluster: limited},
		plan.Source{Repo: "test", Ref: "test", Commit: strings.Repeat("0", 40), Path: "."}, cmDocs(t, "a"))
	if err != nil {
		t.Fatal(err)
	}
	report, err := s.Engine.Apply(ctx, engine.ApplyRequest{Plan: p, Cluster: limited, Actor: "limited", Approved: true, Options: harness.ApplyOptions()})
	if err == nil {
		t.Fatal("a forbidden prune succeeded")
	}
	o := outcomeOf(report, "b")
	if o.Result != apply.ResultFailed || o.Err == nil || !strings.Contains(o.Err.Error(), "is forbidden") {
		t.Errorf("outcome of b = %+v, want failed as forbidden", o)
	}
	if _, err := env.Clientset(t).CoreV1().ConfigMaps(ns).Get(ctx, "b", metav1.GetOptions{}); err != nil {
		t.Errorf("b is gone after a forbidden prune: %v", err)
	}
	if got := inventoryNames(t, s); fmt.Sprint(got) != "[a b]" {
		t.Errorf("inventory = %v, want b kept", got)
	}
	var recorded string
	if err := queryRow(t, s, `SELECT error FROM apply_outcomes WHERE name = 'b' AND outcome = 'failed'`).Scan(&recorded); err != nil || !strings.Contains(recorded, "forbidden") {
		t.Errorf("recorded outcome error %q (%v), want the server's forbidden", recorded, err)
	}
	retry := s.Plan(t, cmDocs(t, "a"), plan.DiffAuto)
	if got := harness.Changes(retry); fmt.Sprint(got) != "[delete ConfigMap/"+ns+"/b]" {
		t.Fatalf("the next plan = %v, want b deleted again", got)
	}
	s.Apply(t, retry)
	if got := inventoryNames(t, s); fmt.Sprint(got) != "[a]" {
		t.Errorf("inventory = %v after the retry, want [a]", got)
	}
}

// limitedCluster returns a Cluster acting as a ServiceAccount allowed verbs
// on ConfigMaps in ns, and nothing else.
func limitedCluster(t *testing.T, ns string, verbs []string) *kube.Cluster {
	t.Helper()
	ctx := context.Background()
	cs := env.Clientset(t)
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "limited"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "limited"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: verbs}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "limited"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "limited"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "limited", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var token string
	harness.Eventually(t, 30*time.Second, "a token for limited", func(ctx context.Context) error {
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "limited", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		token = tr.Status.Token
		return nil
	})
	cfg := rest.CopyConfig(env.Cluster.Config)
	cfg.BearerToken = token
	k, err := kube.Connect(ctx, cfg, kube.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

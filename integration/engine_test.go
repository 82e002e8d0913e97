package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// engineStack prepares a stack of repo's deploy directory in a new namespace.
func engineStack(t *testing.T, name string, repo *harness.ServedRepo, edit func(*stack.Stack)) (*harness.Stack, string) {
	t.Helper()
	ns := env.Namespace(t)
	def := stackDef(name, ns)
	def.Source = stack.Source{Repo: repo.URL, Ref: "main", Path: "deploy"}
	def.Approval, def.Drift = stack.ApprovalAutoUnlessDestructive, stack.DriftCorrect
	def.Schedule = stack.Schedule{Interval: time.Hour}
	if edit != nil {
		edit(&def)
	}
	return env.NewStack(t, def), ns
}

// reconciler reconciles a stack through a watch cache, as gantry run does.
type reconciler struct {
	t     *testing.T
	s     *harness.Stack
	cache *kube.Cache
}

func newReconciler(t *testing.T, s *harness.Stack) *reconciler {
	c := kube.NewCache(s.Kube)
	t.Cleanup(c.Stop)
	return &reconciler{t: t, s: s, cache: c}
}

func (r *reconciler) reconcile() *engine.ReconcileResult {
	r.t.Helper()
	res, err := r.s.Engine.Reconcile(context.Background(), engine.ReconcileRequest{
		Stack: r.s.Def, Cluster: r.s.Kube, Reader: r.cache, Actor: "engine-test", Apply: harness.ApplyOptions()})
	if err != nil {
		r.t.Fatalf("reconcile %s: %v (phase %s)", r.s.Def.Name, err, res.Phase)
	}
	return res
}

// until reconciles until the outcome is want: the watch cache sees a change
// made a moment ago within milliseconds, but not at once.
func (r *reconciler) until(want gate.Outcome) *engine.ReconcileResult {
	r.t.Helper()
	var res *engine.ReconcileResult
	harness.Eventually(r.t, 10*time.Second, "reconcile outcome "+string(want), func(context.Context) error {
		if res = r.reconcile(); res.Outcome != want {
			return fmt.Errorf("outcome %s (%s)", res.Outcome, res.Reason)
		}
		return nil
	})
	return res
}

func expectOutcome(t *testing.T, res *engine.ReconcileResult, want gate.Outcome) {
	t.Helper()
	if res.Outcome != want {
		t.Fatalf("outcome = %s (%s), want %s", res.Outcome, res.Reason, want)
	}
}

func wantLive(t *testing.T, ns, stackName string, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for name, data := range liveConfigMaps(t, ns, stackName) {
		got[name] = data["v"]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("live ConfigMaps = %v, want %v", got, want)
	}
}

func auditCount(t *testing.T, s *harness.Stack, kind event.Kind) int {
	t.Helper()
	return countRows(t, s, "audit_events", fmt.Sprintf("stack = '%s' AND kind = '%s'", s.Def.Name, kind))
}

// TestEngineGate: a new commit applies by itself; a commit deleting half
// the stack waits; approving applies it; rejecting never does.
func TestEngineGate(t *testing.T) {
	t.Parallel()
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1", "b", "1", "c", "1", "d", "1"))
	s, ns := engineStack(t, "gate", repo, nil)
	r := newReconciler(t, s)
	ctx := context.Background()

	expectOutcome(t, r.reconcile(), gate.Applied)
	wantLive(t, ns, "gate", map[string]string{"a": "1", "b": "1", "c": "1", "d": "1"})

	repo.Push("change b", harness.ConfigMaps("a", "1", "b", "2", "c", "1", "d", "1"))
	expectOutcome(t, r.reconcile(), gate.Applied)
	wantLive(t, ns, "gate", map[string]string{"a": "1", "b": "2", "c": "1", "d": "1"})
	expectOutcome(t, r.reconcile(), gate.Unchanged)

	// Deleting 2 of 4 objects (50% > 25%) is destructive: it waits.
	repo.Push("drop c and d", harness.ConfigMaps("a", "1", "b", "2"))
	res := r.reconcile()
	expectOutcome(t, res, gate.Pending)
	if !strings.Contains(res.Reason, "destructive") {
		t.Errorf("pending reason %q does not say why", res.Reason)
	}
	pendingID := res.Plan.ID
	wantLive(t, ns, "gate", map[string]string{"a": "1", "b": "2", "c": "1", "d": "1"})
	// Reconciling again keeps the same plan waiting; nothing new is recorded.
	plansBefore := countRows(t, s, "plans", "stack = 'gate'")
	res = r.reconcile()
	expectOutcome(t, res, gate.Pending)
	if !strings.Contains(res.Reason, pendingID) || countRows(t, s, "plans", "stack = 'gate'") != plansBefore {
		t.Errorf("a second reconcile recorded another plan or forgot %s: %q", pendingID, res.Reason)
	}
	pending, err := s.Store.Gates(ctx, "gate", gate.StatusPending, 0)
	if err != nil || len(pending) != 1 || pending[0].PlanID != pendingID {
		t.Fatalf("pending plans = %+v, %v; want %s", pending, err, pendingID)
	}

	// Approve: the next reconcile applies exactly that plan.
	if _, err := s.Engine.Decide(ctx, state.Decision{PlanID: pendingID, Approve: true, Actor: "alice", Reason: "cleanup"}); err != nil {
		t.Fatal(err)
	}
	res = r.reconcile()
	expectOutcome(t, res, gate.Applied)
	if res.Plan.ID != pendingID {
		t.Errorf("applied plan %s, want the approved %s", res.Plan.ID, pendingID)
	}
	wantLive(t, ns, "gate", map[string]string{"a": "1", "b": "2"})
	if g, _ := s.Store.LatestGate(ctx, "gate"); g.Status != gate.StatusApplied {
		t.Errorf("gate after apply = %s, want applied", g.Status)
	}
	var approver string
	if err := queryRow(t, s, `SELECT actor FROM audit_events WHERE kind = 'plan.approved' AND plan_id = $1`, pendingID).Scan(&approver); err != nil || approver != "alice" {
		t.Errorf("approval recorded by %q (%v), want exactly one by alice", approver, err)
	}

	// Reject: never applied, and not asked again while nothing changes.
	repo.Push("drop b", harness.ConfigMaps("a", "1"))
	res = r.reconcile()
	expectOutcome(t, res, gate.Pending)
	if _, err := s.Engine.Decide(ctx, state.Decision{PlanID: res.Plan.ID, Actor: "bob", Reason: "b is still used"}); err != nil {
		t.Fatal(err)
	}
	expectOutcome(t, r.reconcile(), gate.Rejected)
	wantLive(t, ns, "gate", map[string]string{"a": "1", "b": "2"})
	if n := auditCount(t, s, event.PlanRejected); n != 1 {
		t.Errorf("%d rejections recorded, want 1", n)
	}
	// A newer commit supersedes nothing (the rejected plan is closed) and plans afresh.
	repo.Push("bring b back, change a", harness.ConfigMaps("a", "3", "b", "2"))
	expectOutcome(t, r.reconcile(), gate.Applied)
	wantLive(t, ns, "gate", map[string]string{"a": "3", "b": "2"})
}

// TestEngineNewerCommitSupersedes: a plan waiting for approval is replaced
// by the plan of a newer commit; approving the old one is refused.
func TestEngineNewerCommitSupersedes(t *testing.T) {
	t.Parallel()
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1"))
	s, ns := engineStack(t, "supersede", repo, func(d *stack.Stack) { d.Approval = stack.ApprovalManual })
	r := newReconciler(t, s)
	ctx := context.Background()
	first := r.reconcile()
	expectOutcome(t, first, gate.Pending)
	repo.Push("a=2", harness.ConfigMaps("a", "2"))
	second := r.reconcile()
	expectOutcome(t, second, gate.Pending)
	if _, err := s.Engine.Decide(ctx, state.Decision{PlanID: first.Plan.ID, Approve: true, Actor: "alice"}); err == nil || !strings.Contains(err.Error(), "superseded") {
		t.Fatalf("approving a superseded plan: %v", err)
	}
	if _, err := s.Engine.Decide(ctx, state.Decision{PlanID: second.Plan.ID, Approve: true, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	expectOutcome(t, r.reconcile(), gate.Applied)
	wantLive(t, ns, "supersede", map[string]string{"a": "2"})
	if n := auditCount(t, s, event.PlanSuperseded); n != 1 {
		t.Errorf("%d plan.superseded events, want 1", n)
	}
}

// TestEngineApprovedPlanStale: an approved plan whose objects changed in
// the cluster since is not applied; it is planned again and waits for
// approval again — under manual approval (a change), and under
// auto-unless-destructive (a destructive deletion; the object edited is one
// the plan leaves as it is).
func TestEngineApprovedPlanStale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		approval stack.Approval
		next     map[string]string // the commit that waits
	}{
		{"manual", stack.ApprovalManual, harness.ConfigMaps("a", "2", "b", "1")},
		{"destructive", stack.ApprovalAutoUnlessDestructive, harness.ConfigMaps("a", "1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := "stale-" + tc.name
			repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1", "b", "1"))
			s, ns := engineStack(t, name, repo, func(d *stack.Stack) { d.Approval = tc.approval })
			r := newReconciler(t, s)
			ctx := context.Background()
			if res := r.reconcile(); res.Outcome == gate.Pending {
				if _, err := s.Engine.Decide(ctx, state.Decision{PlanID: res.Plan.ID, Approve: true, Actor: "alice"}); err != nil {
					t.Fatal(err)
				}
				expectOutcome(t, r.reconcile(), gate.Applied)
			} else {
				expectOutcome(t, res, gate.Applied)
			}

			repo.Push("the change that waits", tc.next)
			res := r.reconcile()
			expectOutcome(t, res, gate.Pending)
			stalePlan := res.Plan.ID
			// Out of band, someone labels a: the plan's base moved.
			cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
			cm, err := cms.Get(ctx, "a", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cm.Labels["edited"] = "by-hand"
			if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Engine.Decide(ctx, state.Decision{PlanID: stalePlan, Approve: true, Actor: "alice"}); err != nil {
				t.Fatal(err)
			}
			res = r.reconcile()
			expectOutcome(t, res, gate.Pending)
			if res.Plan == nil || res.Plan.ID == stalePlan {
				t.Fatalf("the stale plan was not planned again: %+v", res)
			}
			wantLive(t, ns, name, map[string]string{"a": "1", "b": "1"})
			gates, err := s.Store.Gates(ctx, name, gate.StatusStale, 0)
			if err != nil || len(gates) != 1 || gates[0].PlanID != stalePlan || !strings.Contains(gates[0].DecisionReason, "changed after approval") {
				t.Fatalf("stale plans = %+v, %v; want %s marked stale with why", gates, err, stalePlan)
			}
			if n := auditCount(t, s, event.PlanStale); n != 1 {
				t.Errorf("%d plan.stale events, want 1", n)
			}
			if n := countRows(t, s, "applies", "plan_id = '"+stalePlan+"'"); n != 0 {
				t.Errorf("the stale plan has %d applies, want none", n)
			}
		})
	}
}

// TestEngineAutoApproval: with approval: auto, a destructive plan applies
// without a person, recorded as approved by the engine.
func TestEngineAutoApproval(t *testing.T) {
	t.Parallel()
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1", "b", "1"))
	s, ns := engineStack(t, "auto", repo, func(d *stack.Stack) { d.Approval = stack.ApprovalAuto })
	r := newReconciler(t, s)
	expectOutcome(t, r.reconcile(), gate.Applied)
	repo.Push("drop b", harness.ConfigMaps("a", "1"))
	res := r.reconcile()
	expectOutcome(t, res, gate.Applied)
	if len(res.Plan.Destructive) == 0 {
		t.Fatal("deleting half the stack was not destructive")
	}
	wantLive(t, ns, "auto", map[string]string{"a": "1"})
	var actor string
	if err := queryRow(t, s, `SELECT actor FROM audit_events WHERE kind = 'plan.approved' AND plan_id = $1`, res.Plan.ID).Scan(&actor); err != nil || actor != "engine-test" {
		t.Errorf("approval recorded by %q (%v), want the engine's actor", actor, err)
	}
}

// TestEngineDrift: an object deleted and a field edited out of band are
// corrected with drift: correct, and only recorded with drift: report.
func TestEngineDrift(t *testing.T) {
	t.Parallel()
	for _, mode := range []stack.Drift{stack.DriftCorrect, stack.DriftReport} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1", "b", "1"))
			name := "drift-" + string(mode)
			// A kubectl edit takes the fields it changes from gantry: taking
			// them back is a conflict, which forceConflicts resolves.
			s, ns := engineStack(t, name, repo, func(d *stack.Stack) { d.Drift, d.ForceConflicts = mode, true })
			r := newReconciler(t, s)
			ctx := context.Background()
			expectOutcome(t, r.reconcile(), gate.Applied)

			cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
			if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			cm, err := cms.Get(ctx, "b", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cm.Data["v"] = "edited"
			if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
				t.Fatal(err)
			}
			if mode == stack.DriftCorrect {
				res := r.until(gate.Applied)
				if res.Drift != 2 {
					t.Errorf("drift = %d objects, want 2", res.Drift)
				}
				wantLive(t, ns, name, map[string]string{"a": "1", "b": "1"})
				return
			}
			res := r.until(gate.DriftReported)
			if res.Drift != 2 {
				t.Errorf("drift = %d objects, want 2", res.Drift)
			}
			expectOutcome(t, r.reconcile(), gate.DriftReported)
			wantLive(t, ns, name, map[string]string{"b": "edited"})
			if n := auditCount(t, s, event.DriftDetected); n != 1 {
				t.Errorf("%d drift.detected events after two reconciles, want 1", n)
			}
			var drifted string
			if err := queryRow(t, s, `SELECT details->>'drifted' FROM audit_events WHERE kind = 'drift.detected'`).Scan(&drifted); err != nil ||
				!strings.Contains(drifted, "ConfigMap/"+ns+"/a") || !strings.Contains(drifted, "ConfigMap/"+ns+"/b") {
				t.Errorf("drift event names %s (%v), want a and b", drifted, err)
			}
			// A new commit is applied, drift and all.
			repo.Push("a=2", harness.ConfigMaps("a", "2", "b", "1"))
			expectOutcome(t, r.reconcile(), gate.Applied)
			wantLive(t, ns, name, map[string]string{"a": "2", "b": "1"})
		})
	}
}

// TestEngineWindow: a deny window holds the apply (the plan is recorded)
// until it closes, by the engine's injected clock.
func TestEngineWindow(t *testing.T) {
	t.Parallel()
	cfg, err := stack.Parse("gantry.yaml", []byte(`apiVersion: gantry.dev/v1alpha1
kind: Config
stacks:
- name: w
  source: {repo: x}
  windows:
  - {kind: deny, schedule: "0 12 * * *", duration: 1h, timeZone: UTC}
`))
	if err != nil {
		t.Fatal(err)
	}
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1"))
	s, ns := engineStack(t, "window", repo, func(d *stack.Stack) { d.Windows = cfg.Stacks[0].Windows })
	r := newReconciler(t, s)
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	s.Clock.Set(day.Add(11 * time.Hour))
	expectOutcome(t, r.reconcile(), gate.Applied)

	repo.Push("a=2", harness.ConfigMaps("a", "2"))
	s.Clock.Set(day.Add(12*time.Hour + 30*time.Minute))
	res := r.reconcile()
	expectOutcome(t, res, gate.Deferred)
	if !strings.Contains(res.Reason, "deny window") {
		t.Errorf("deferred reason %q does not name the window", res.Reason)
	}
	expectOutcome(t, r.reconcile(), gate.Deferred)
	wantLive(t, ns, "window", map[string]string{"a": "1"})
	if n := auditCount(t, s, event.ApplyDeferred); n != 1 {
		t.Errorf("%d apply.deferred events after two reconciles, want 1", n)
	}
	if n := countRows(t, s, "plans", "stack = 'window' AND id = '"+res.Plan.ID+"'"); n != 1 {
		t.Errorf("the deferred plan is not recorded")
	}
	if next := s.Def.NextWindowChange(s.Clock.Now(), time.Hour); !next.Equal(day.Add(13 * time.Hour)) {
		t.Errorf("next window change = %s, want 13:00 (the runner wakes then)", next)
	}

	s.Clock.Set(day.Add(13*time.Hour + time.Minute))
	expectOutcome(t, r.reconcile(), gate.Applied)
	wantLive(t, ns, "window", map[string]string{"a": "2"})
}

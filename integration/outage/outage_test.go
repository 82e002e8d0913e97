package outage

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// newStack prepares a stack of repoURL's deploy directory in a new namespace.
func newStack(t *testing.T, name, repoURL string) (*harness.Stack, string) {
	t.Helper()
	ns := env.Namespace(t)
	def := stack.Stack{Name: name, Source: stack.Source{Repo: repoURL, Ref: "main", Path: "deploy"}, Target: stack.Target{Namespace: ns},
		Prune: true, MaxPrunePercent: 25, Approval: stack.ApprovalAutoUnlessDestructive, Drift: stack.DriftCorrect,
		Schedule: stack.Schedule{Interval: time.Hour}}
	return env.NewStack(t, def), ns
}

// runFast runs s with short backoffs, so that retries come quickly.
func runFast(t *testing.T, s *harness.Stack) *harness.RunningEngine {
	opts := runner.DefaultOptions()
	opts.MinBackoff, opts.MaxBackoff = 100*time.Millisecond, time.Second
	return harness.StartRunner(t, s, opts)
}

// until waits for a reconcile that satisfies ok, returning it and the
// failed reconciles seen before it.
func until(t *testing.T, e *harness.RunningEngine, what string, ok func(harness.Reconciled) bool) (harness.Reconciled, []harness.Reconciled) {
	t.Helper()
	var failed []harness.Reconciled
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		r := e.NextResult()
		if ok(r) {
			return r, failed
		}
		if r.Err != nil {
			failed = append(failed, r)
		}
	}
	t.Fatalf("no reconcile %s within 90s", what)
	return harness.Reconciled{}, nil
}

func failedReconcile(r harness.Reconciled) bool { return r.Err != nil }

func applied(r harness.Reconciled) bool { return r.Err == nil && r.Outcome == gate.Applied }

func live(t *testing.T, ns string) map[string]string {
	t.Helper()
	list, err := env.Clientset(t).CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "gantry.dev/stack"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, cm := range list.Items {
		out[cm.Name] = cm.Data["v"]
	}
	return out
}

func wantLive(t *testing.T, ns string, want map[string]string) {
	t.Helper()
	if got := live(t, ns); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("live ConfigMaps = %v, want %v", got, want)
	}
}

func inventorySize(t *testing.T, s *harness.Stack) int {
	t.Helper()
	_, inv, err := s.Store.Inventory(context.Background(), s.Def.Name)
	if err != nil {
		t.Fatal(err)
	}
	return len(inv)
}

// TestGitServerDown: while the Git server answers 503, reconciles fail in
// the render phase, are retried with backoff and reported, and nothing is
// planned, applied or pruned; once it is back, the commit pushed meanwhile
// is applied.
func TestGitServerDown(t *testing.T) {
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1", "b", "1", "c", "1", "d", "1"))
	target, err := url.Parse(repo.Server.URL)
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "git server is down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	s, ns := newStack(t, "git-down", front.URL+"/app.git")
	e := runFast(t, s)
	until(t, e, "applying the first commit", applied)
	wantLive(t, ns, map[string]string{"a": "1", "b": "1", "c": "1", "d": "1"})

	down.Store(true)
	repo.Push("a=2, and an empty deploy/ would prune everything", harness.ConfigMaps("a", "2", "b", "1", "c", "1", "d", "1"))
	e.Runner.Trigger("git-down")
	r, _ := until(t, e, "failing", failedReconcile)
	if r.Phase != "render" || !strings.Contains(r.Err.Error(), "503") {
		t.Errorf("failed in %s with %v, want render naming the 503", r.Phase, r.Err)
	}
	// Retried with backoff, without a trigger.
	until(t, e, "failing again", failedReconcile)
	wantLive(t, ns, map[string]string{"a": "1", "b": "1", "c": "1", "d": "1"})
	if n := inventorySize(t, s); n != 4 {
		t.Errorf("inventory holds %d objects during the outage, want 4", n)
	}
	code, body := e.Do("GET", "/api/v1/stacks", harness.APIToken, nil, nil)
	if code != 200 || !strings.Contains(body, `"outcome": "failed"`) || !strings.Contains(body, "503") {
		t.Errorf("stacks during the outage = %d %s", code, body)
	}
	_, metrics := e.Do("GET", "/metrics", "", nil, nil)
	if !strings.Contains(metrics, `gantry_reconciles_total{phase="render",result="failed",stack="git-down"}`) {
		t.Errorf("metrics do not count the failed renders")
	}

	down.Store(false)
	until(t, e, "applying the commit pushed during the outage", applied)
	wantLive(t, ns, map[string]string{"a": "2", "b": "1", "c": "1", "d": "1"})
	if n := inventorySize(t, s); n != 4 {
		t.Errorf("inventory holds %d objects after the outage, want 4", n)
	}
}

// TestAPIServerRestart: with the API server down, a new commit cannot be
// planned: reconciles fail and are retried; once the server is back the
// commit is applied, and the watch cache follows the cluster again (an
// object deleted after the restart is seen and recreated).
func TestAPIServerRestart(t *testing.T) {
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1", "b", "1"))
	s, ns := newStack(t, "api-restart", repo.URL)
	e := runFast(t, s)
	until(t, e, "applying the first commit", applied)

	if err := env.Cluster.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.Cluster.StartAPIServer(context.Background())
		}
	})
	// Nothing changed in Git, but the engine cannot see the cluster: it
	// says so rather than "unchanged".
	var r harness.Reconciled
	harness.Eventually(t, 30*time.Second, "a reconcile fails while the API server is down", func(context.Context) error {
		e.Runner.Trigger("api-restart") // the watch notices the outage within moments, not at once
		if r = e.NextResult(); r.Err == nil {
			return fmt.Errorf("outcome %s", r.Outcome)
		}
		return nil
	})
	if r.Phase != "plan" || !strings.Contains(r.Err.Error(), "cannot be watched") {
		t.Errorf("failed in %s with %v, want the plan phase saying the cluster cannot be watched", r.Phase, r.Err)
	}
	repo.Push("a=2", harness.ConfigMaps("a", "2", "b", "1"))
	until(t, e, "failing again", failedReconcile)
	if err := env.Cluster.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	until(t, e, "applying after the restart", applied)
	wantLive(t, ns, map[string]string{"a": "2", "b": "1"})

	if err := env.Clientset(t).CoreV1().ConfigMaps(ns).Delete(context.Background(), "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 30*time.Second, "the watch cache sees b deleted", func(context.Context) error {
		e.Runner.Trigger("api-restart")
		if r := e.NextResult(); !applied(r) {
			return fmt.Errorf("outcome %s (%v)", r.Outcome, r.Err)
		}
		return nil
	})
	wantLive(t, ns, map[string]string{"a": "2", "b": "1"})
}

// TestPostgresRestart: with Postgres down, reconciles fail before touching
// the cluster (no apply without a record); once it is back, the commit is
// applied and recorded, and no record is lost or doubled.
func TestPostgresRestart(t *testing.T) {
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1"))
	s, ns := newStack(t, "pg-restart", repo.URL)
	e := runFast(t, s)
	until(t, e, "applying the first commit", applied)

	ctx := context.Background()
	if err := env.DB.Server.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	started := false
	t.Cleanup(func() {
		if !started {
			_, _ = env.DB.Server.Start(ctx)
		}
	})
	repo.Push("a=2", harness.ConfigMaps("a", "2"))
	e.Runner.Trigger("pg-restart")
	until(t, e, "failing while Postgres is down", failedReconcile)
	until(t, e, "failing again", failedReconcile)
	wantLive(t, ns, map[string]string{"a": "1"})
	if _, err := env.DB.Server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	started = true
	until(t, e, "applying after Postgres is back", applied)
	wantLive(t, ns, map[string]string{"a": "2"})

	entries, err := s.Store.History(ctx, "pg-restart", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d applies recorded, want 2", len(entries))
	}
	for _, en := range entries {
		if en.Status != state.ApplySucceeded {
			t.Errorf("apply %s: %s", en.ApplyID, en.Status)
		}
	}
	events, err := s.Store.AuditLog(ctx, "pg-restart", 0)
	if err != nil {
		t.Fatal(err)
	}
	count := map[event.Kind]int{}
	for _, ev := range events {
		count[ev.Kind]++
	}
	if count[event.ApplyStarted] != 2 || count[event.ApplySucceeded] != 2 {
		t.Errorf("audit log: %d apply.started, %d apply.succeeded, want 2 each", count[event.ApplyStarted], count[event.ApplySucceeded])
	}
}

package outage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPostgresStopsMidApply: Postgres stops while an apply of 400 objects
// runs. The apply's intent was on record before it began; when the
// outcomes can no longer be written, the apply stops making changes
// (interrupted, nothing pruned), waits for Postgres, and records what it did
// when it returns. The next apply converges.
func TestPostgresStopsMidApply(t *testing.T) {
	const n = 400
	ns := env.Namespace(t)
	def := stack.Stack{Name: "pg-mid-apply", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 25}
	s := env.NewStack(t, def)
	var kv []string
	for i := range n {
		kv = append(kv, fmt.Sprintf("cm-%03d", i), "1")
	}
	objs := harness.Render(t, writeManifests(t, harness.ConfigMaps(kv...)))
	p := s.Plan(t, objs, plan.DiffAuto)
	ctx := context.Background()
	cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
	count := func() int {
		list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/stack=pg-mid-apply"})
		if err != nil {
			t.Error(err)
			return 0
		}
		return len(list.Items)
	}

	outage := make(chan int, 1)
	go func() {
		for count() < 40 {
			time.Sleep(5 * time.Millisecond)
		}
		_ = env.DB.Server.Stop(ctx)
		at := count()
		time.Sleep(2 * time.Second)
		_, _ = env.DB.Server.Start(ctx)
		outage <- at
	}()
	report, err := s.TryApply(p, true, harness.ApplyOptions())
	stoppedAt := <-outage
	if err == nil || !strings.Contains(err.Error(), "the record of the apply cannot be written") {
		t.Fatalf("apply through a Postgres outage: %v, want it interrupted for the lost record", err)
	}
	if !report.Interrupted || report.Pruned {
		t.Errorf("report: interrupted %v, pruned %v; want interrupted, not pruned", report.Interrupted, report.Pruned)
	}
	live := count()
	t.Logf("Postgres stopped with %d objects created; the apply stopped at %d of %d", stoppedAt, live, n)
	if live == n {
		t.Errorf("the apply went on creating all %d objects while it could not record them", n)
	}
	entries, err := s.Store.History(ctx, def.Name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Status != state.ApplyInterrupted {
		t.Fatalf("history = %+v, want one interrupted apply (recorded once Postgres was back)", entries)
	}
	pending, applied := countOutcomes(t, s, "outcome = 'pending'"), countOutcomes(t, s, "outcome = 'applied'")
	if pending != 0 || applied > live {
		t.Errorf("outcomes: %d pending, %d applied of %d live; want none pending and no more applied than exist", pending, applied, live)
	}

	s.Apply(t, s.Plan(t, objs, plan.DiffAuto))
	if got := count(); got != n {
		t.Errorf("%d objects after the next apply, want %d", got, n)
	}
}

func countOutcomes(t *testing.T, s *harness.Stack, where string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM apply_outcomes WHERE "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// writeManifests writes files into a temporary directory and returns the
// directory holding deploy/.
func writeManifests(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "deploy")
}

// TestAPIServerRestartMidApply: the API server goes away while gantry run
// applies 400 objects. The apply fails on record (nothing pruned), the
// engine retries with backoff, and once the server is back the stack
// converges.
func TestAPIServerRestartMidApply(t *testing.T) {
	const n = 400
	var kv []string
	for i := range n {
		kv = append(kv, fmt.Sprintf("cm-%03d", i), "1")
	}
	repo := harness.NewServedRepo(t, harness.ConfigMaps(kv...))
	s, ns := newStack(t, "api-mid-apply", repo.URL)
	cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
	count := func(ctx context.Context) int {
		list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/stack=api-mid-apply"})
		if err != nil {
			return -1
		}
		return len(list.Items)
	}
	ctx := context.Background()
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		for count(ctx) < 40 {
			time.Sleep(5 * time.Millisecond)
		}
		if err := env.Cluster.StopAPIServer(); err != nil {
			t.Error(err)
		}
		time.Sleep(2 * time.Second)
		if err := env.Cluster.StartAPIServer(ctx); err != nil {
			t.Error(err)
		}
	}()
	e := runFast(t, s)
	r, _ := until(t, e, "failing while the API server is gone", failedReconcile)
	if r.Phase != "apply" && r.Phase != "plan" {
		t.Errorf("failed in %s: %v", r.Phase, r.Err)
	}
	<-restarted
	until(t, e, "converging after the restart", func(r harness.Reconciled) bool {
		return r.Err == nil && (r.Outcome == gate.Applied || r.Outcome == gate.Unchanged) && count(ctx) == n
	})
	entries, err := s.Store.History(ctx, "api-mid-apply", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 2 || entries[len(entries)-1].Status == state.ApplySucceeded || entries[0].Status != state.ApplySucceeded {
		t.Errorf("history (newest first) = %+v; want the interrupted or failed apply, then a succeeded one", entries)
	}
}

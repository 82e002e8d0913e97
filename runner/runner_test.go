package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/internal/syncbuf"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// reconciled is one reconcile a running Runner reported.
type reconciled struct {
	res *engine.ReconcileResult
	err error
	at  time.Time
}

// startRunner runs a runner of stacks on a database of its own until the
// test ends, its reconcile replaced by reconcile (the rest is real: the
// loop, recovery, backoff, status, metrics, the approval poll). Every
// reconcile is delivered on the channel returned.
func startRunner(t *testing.T, stacks []stack.Stack, reconcile func(context.Context, engine.ReconcileRequest) (*engine.ReconcileResult, error)) (*Runner, <-chan reconciled, *syncbuf.Buffer) {
	t.Helper()
	store, err := state.Open(context.Background(), state.Options{DatabaseURL: pg.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	log := &syncbuf.Buffer{}
	logger := hclog.New(&hclog.LoggerOptions{Output: log, Level: hclog.Debug, JSONFormat: true})
	e := engine.New(store, nil, engine.Options{Logger: logger})
	results := make(chan reconciled, 1000)
	r := New(e, Options{Stacks: stacks, MinBackoff: 20 * time.Millisecond, MaxBackoff: 80 * time.Millisecond, ApprovalPoll: 50 * time.Millisecond, Logger: logger,
		OnReconcile: func(res *engine.ReconcileResult, err error) { results <- reconciled{res, err, time.Now()} }})
	r.reconcile = reconcile
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r, results, log
}

func next(t *testing.T, results <-chan reconciled) reconciled {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no reconcile within 10s")
		return reconciled{}
	}
}

// TestRunnerSurvivesAPanic: one runner, two stacks. The reconcile of one
// panics with a runtime error, as a bug some content reached would (a CRD's
// spec.versions read as mappings when they are strings). That is a failed
// reconcile of that stack alone, phase panic: its error in the status and
// the metrics, its stack trace in the log, retried with growing backoff;
// the other stack reconciles before and after, and the runner stops
// cleanly. Without reconcileRecovered the panic ends the test binary.
func TestRunnerSurvivesAPanic(t *testing.T) {
	t.Parallel()
	hourly := stack.Schedule{Interval: time.Hour}
	stacks := []stack.Stack{{Name: "hostile", Schedule: hourly}, {Name: "steady", Schedule: hourly}}
	r, results, log := startRunner(t, stacks, func(_ context.Context, req engine.ReconcileRequest) (*engine.ReconcileResult, error) {
		if req.Stack.Name == "hostile" {
			versions := []any{"v1"}
			_ = versions[0].(map[string]any)["name"]
		}
		return &engine.ReconcileResult{Stack: req.Stack.Name, Phase: "gate", Outcome: gate.Unchanged}, nil
	})

	var panics []reconciled
	steady := 0
	for len(panics) < 4 || steady < 1 {
		rec := next(t, results)
		switch rec.res.Stack {
		case "hostile":
			if rec.err == nil || rec.res.Phase != engine.PhasePanic || !strings.Contains(rec.err.Error(), "interface conversion") {
				t.Fatalf("hostile reconcile: phase %s, error %v; want a failure in phase panic naming the runtime error", rec.res.Phase, rec.err)
			}
			panics = append(panics, rec)
		case "steady":
			if rec.err != nil || rec.res.Outcome != gate.Unchanged {
				t.Fatalf("steady reconcile: %s, %v", rec.res.Outcome, rec.err)
			}
			steady++
		}
	}
	// Backoff: 20, 40, 80 ms (at most MaxBackoff) between the failures.
	for i, want := range []time.Duration{20, 40, 80} {
		if gap := panics[i+1].at.Sub(panics[i].at); gap < want*time.Millisecond {
			t.Errorf("retry %d came after %s, want at least %dms (backoff)", i+1, gap, want)
		}
	}

	// The runner goes on: the steady stack reconciles when asked.
	r.Trigger("steady")
	for again := false; !again; {
		again = next(t, results).res.Stack == "steady"
	}
	var hostile, calm StackStatus
	for _, st := range r.Status() {
		switch st.Stack {
		case "hostile":
			hostile = st
		case "steady":
			calm = st
		}
	}
	// Failures is counted after OnReconcile reports: it may lag by one.
	if hostile.Outcome != gate.Failed || !strings.Contains(hostile.Error, "gantry panicked") || hostile.Failures < len(panics)-1 || !hostile.LastSuccess.IsZero() {
		t.Errorf("hostile status = %+v, want failed with the panic, %d failures or more, never a success", hostile, len(panics)-1)
	}
	if calm.Outcome != gate.Unchanged || calm.Error != "" || calm.Failures != 0 || calm.LastSuccess.IsZero() {
		t.Errorf("steady status = %+v, want unchanged and succeeding", calm)
	}

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(r.Metrics().Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{`gantry_reconciles_total{phase="panic",result="failed",stack="hostile"}`, `gantry_reconciles_total{phase="gate",result="unchanged",stack="steady"} 2`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if logged := log.String(); !strings.Contains(logged, `"@message":"reconcile panicked: a bug in gantry, please report it"`) ||
		!strings.Contains(logged, `"stack":"hostile"`) || !strings.Contains(logged, "runner_test.go") {
		t.Errorf("the panic and its stack trace are not logged:\n%.3000s", logged)
	}
}

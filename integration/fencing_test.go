package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
)

// TestLockFencing ends the database session holding a stack's lock
// (pg_terminate_backend) while gantry applies 400 objects. gantry stops
// before its next write and says why; a second gantry takes the lock at
// once and converges; the first one wrote nothing after losing the lock
// beyond the requests already in flight.
func TestLockFencing(t *testing.T) {
	t.Parallel()
	const n = 400
	ns := env.Namespace(t)
	def := stackDef("fencing", ns)
	first := env.NewStack(t, def)
	second := env.NewStackOn(t, def, first.DSN)
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("cm-%03d", i))
	}
	objs := cmDocs(t, names...)
	p := first.Plan(t, objs, plan.DiffAuto)
	ctx := context.Background()
	cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
	count := func() int {
		list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/stack=fencing"})
		if err != nil {
			t.Error(err)
			return 0
		}
		return len(list.Items)
	}

	type result struct {
		report *apply.Report
		err    error
	}
	done := make(chan result, 1)
	go func() {
		r, err := first.TryApply(p, true, harness.ApplyOptions())
		done <- result{r, err}
	}()
	for count() < 40 {
		time.Sleep(5 * time.Millisecond)
	}
	admin, err := pgx.Connect(ctx, first.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var terminated bool
	if err := admin.QueryRow(ctx, `SELECT pg_terminate_backend(backend_pid) FROM stack_locks WHERE stack = 'fencing'`).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("terminate the lock's session: %v, %v", terminated, err)
	}
	atLoss := count()
	// A second gantry can take the lock at once, while the first still runs.
	l, err := second.Store.Lock(ctx, "fencing", "second", "", 5*time.Second)
	if err != nil {
		t.Fatalf("the second gantry could not take the lock: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if !errors.Is(r.err, state.ErrLockLost) || !r.report.Interrupted {
		t.Fatalf("the first apply ended with %v (interrupted %v), want the lost lock", r.err, r.report.Interrupted)
	}
	confirmed := 0
	for _, o := range r.report.Outcomes {
		if o.Result == apply.ResultApplied {
			confirmed++
		}
	}
	t.Logf("lock lost with %d objects created; the first apply made %d in all", atLoss, confirmed)
	// In flight when the lock was lost: at most one request per worker.
	if limit := atLoss + 2*harness.ApplyOptions().Concurrency; confirmed > limit {
		t.Errorf("the first apply made %d objects, more than the %d existing or in flight when it lost its lock", confirmed, limit)
	}
	// The second gantry converges the stack.
	second.Apply(t, second.Plan(t, objs, plan.DiffAuto))
	if got := count(); got != n {
		t.Errorf("%d objects after the takeover, want %d", got, n)
	}
	if lost := dbValue[int](t, first.DSN, `SELECT count(*) FROM audit_events WHERE kind = 'lock.lost'`); lost != 1 {
		t.Errorf("%d lock.lost events, want 1", lost)
	}
	entries, err := first.Store.History(ctx, "fencing", 0)
	if err != nil || len(entries) != 2 || entries[0].Status != state.ApplySucceeded || entries[1].Status != state.ApplyInterrupted {
		t.Errorf("history = %+v, %v; want the interrupted apply, then the takeover's success", entries, err)
	}
}

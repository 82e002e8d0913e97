package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
	"github.com/jackc/pgx/v5"
)

func TestHealthEvent(t *testing.T) {
	failed := errors.New("fetch shop: authentication required\nmore")
	res := &engine.ReconcileResult{Phase: engine.Phase("render")}
	rows := []struct {
		name   string
		before int
		err    error
		want   event.Data
	}{
		{"a first failure", 0, failed, nil},
		{"the second", 1, failed, nil},
		{"the third: failing", 2, failed, event.StackFailingData{Failures: 3, Phase: "render", Error: "fetch shop: authentication required"}},
		{"the fourth: said already", 3, failed, nil},
		{"a success after two: not recovered (never failing)", 2, nil, nil},
		{"a success after three: recovered", 3, nil, event.StackRecoveredData{Failures: 3}},
		{"a success after ten: recovered", 10, nil, event.StackRecoveredData{Failures: 10}},
		{"a success after none", 0, nil, nil},
	}
	for _, row := range rows {
		if got := healthEvent(row.before, row.err, res, 3); got != row.want {
			t.Errorf("%s: %#v, want %#v", row.name, got, row.want)
		}
	}
	long := errors.New(strings.Repeat("x", 5000))
	if got := healthEvent(2, long, nil, 3).(event.StackFailingData); len([]rune(got.Error)) != 1001 || got.Phase != "" {
		t.Errorf("a long error: %d runes, phase %q", len([]rune(got.Error)), got.Phase)
	}
}

// TestHealthEventsRecorded: a stack's reconciles fail four times in a
// row, then succeed: the event feed holds one stack.failing (at the
// third, its error) and one stack.recovered (after four).
func TestHealthEventsRecorded(t *testing.T) {
	t.Parallel()
	dsn := pg.NewDatabase(t)
	store, err := state.Open(context.Background(), state.Options{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e := engine.New(store, nil, engine.Options{})
	calls := 0
	recovered := make(chan struct{})
	r := New(e, Options{Stacks: []stack.Stack{{Name: "flaky", Schedule: stack.Schedule{Interval: time.Hour}}}, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	r.reconcile = func(_ context.Context, req engine.ReconcileRequest) (*engine.ReconcileResult, error) {
		calls++
		res := &engine.ReconcileResult{Stack: req.Stack.Name, Phase: "render", Outcome: gate.Unchanged}
		if calls <= 4 {
			return res, errors.New("git unreachable")
		}
		if calls == 5 {
			close(recovered)
		}
		return res, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	select {
	case <-recovered:
	case <-time.After(10 * time.Second):
		t.Fatal("no fifth reconcile")
	}
	time.Sleep(100 * time.Millisecond) // the event after the fifth is recorded
	cancel()
	<-done
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT kind, coalesce(details->>'error', '') FROM audit_events WHERE stack = 'flaky' ORDER BY at DESC`)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for rows.Next() {
		var kind, msg string
		if err := rows.Scan(&kind, &msg); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, strings.TrimSpace(kind+" "+msg))
	}
	if strings.Join(kinds, ",") != "stack.recovered,stack.failing git unreachable" { // newest first
		t.Errorf("health events %v, want one stack.failing then one stack.recovered", kinds)
	}
}

package runner

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/internal/crash"
	"github.com/gantryops/gantry/object"
)

// TestReconcileRecovered: a reconcile that panics is a failed reconcile of
// its stack, phase panic, with the panic's message; one that returns is
// passed on as it is.
func TestReconcileRecovered(t *testing.T) {
	t.Parallel()
	failed := errors.New("git unreachable")
	cases := []struct {
		name      string
		reconcile func() (*engine.ReconcileResult, error)
		wantPhase engine.Phase
		wantErr   string
		panicked  bool
	}{
		{"succeeds", func() (*engine.ReconcileResult, error) {
			return &engine.ReconcileResult{Stack: "a", Phase: "gate", Outcome: gate.Unchanged}, nil
		}, "gate", "", false},
		{"fails", func() (*engine.ReconcileResult, error) {
			return &engine.ReconcileResult{Stack: "a", Phase: "render"}, failed
		}, "render", "git unreachable", false},
		{"panics with a runtime error", func() (*engine.ReconcileResult, error) {
			var v any = "v1"
			_ = v.(map[string]any)["name"]
			return nil, nil
		}, engine.PhasePanic, "interface conversion: interface {} is string, not map[string]interface {}", true},
		{"panics with a value", func() (*engine.ReconcileResult, error) { panic("deliberately") }, engine.PhasePanic, "gantry panicked (a bug: please report it with the log's stack trace): deliberately", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := reconcileRecovered("a", tc.reconcile)
			if res == nil || res.Stack != "a" || res.Phase != tc.wantPhase {
				t.Fatalf("result = %+v, want stack a in phase %s", res, tc.wantPhase)
			}
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if got := errors.As(err, new(*crash.Error)); got != tc.panicked {
				t.Errorf("err is a recovered panic: %t, want %t", got, tc.panicked)
			}
		})
	}
}

// TestLogPanics: the stack traces of a reconcile's panic and of an object's
// whose apply panicked are logged; other failures are not logged as panics.
func TestLogPanics(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &out, JSONFormat: true})
	panicked := crash.Catch(func() error { panic("in the planner") })
	objectPanicked := crash.Catch(func() error { panic("in the applier") })
	report := &apply.Report{Outcomes: []apply.Outcome{
		{Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "a"}, Result: apply.ResultFailed, Err: objectPanicked},
		{Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "b"}, Result: apply.ResultFailed, Err: errors.New("forbidden")},
	}}
	logPanics(log, panicked, report)
	logPanics(log, errors.New("plain"), nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), out.String())
	}
	for i, want := range []string{"in the planner", "in the applier"} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], `"stack_trace":"goroutine`) || !strings.Contains(lines[i], "recover_test.go") {
			t.Errorf("line %d lacks the panic %q or its stack trace:\n%s", i, want, lines[i])
		}
	}
	if !strings.Contains(lines[1], `"object":"ConfigMap/n/a"`) {
		t.Errorf("the object whose apply panicked is not named: %s", lines[1])
	}
}

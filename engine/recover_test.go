package engine

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/gantryops/gantry/apply"
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
		reconcile func() (*ReconcileResult, error)
		wantPhase Phase
		wantErr   string
		panicked  bool
	}{
		{"succeeds", func() (*ReconcileResult, error) {
			return &ReconcileResult{Stack: "a", Phase: "gate", Outcome: gate.Unchanged}, nil
		}, "gate", "", false},
		{"fails", func() (*ReconcileResult, error) { return &ReconcileResult{Stack: "a", Phase: "render"}, failed }, "render", "git unreachable", false},
		{"panics with a runtime error", func() (*ReconcileResult, error) {
			var v any = "v1"
			_ = v.(map[string]any)["name"]
			return nil, nil
		}, PhasePanic, "interface conversion: interface {} is string, not map[string]interface {}", true},
		{"panics with a value", func() (*ReconcileResult, error) { panic("deliberately") }, PhasePanic, "gantry panicked (a bug: please report it with the log's stack trace): deliberately", true},
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

// TestRecoveringHandler: a handler that panics answers 500 with a generic
// error (the panic and its stack go to the log only); handlers that do not
// panic are untouched; net/http's ErrAbortHandler still aborts.
func TestRecoveringHandler(t *testing.T) {
	t.Parallel()
	var logged bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logged})
	mux := http.NewServeMux()
	mux.HandleFunc("/panics", func(http.ResponseWriter, *http.Request) { panic("secret-looking detail") })
	mux.HandleFunc("/fine", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusTeapot, map[string]string{"ok": "yes"})
	})
	mux.HandleFunc("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	h := recovering(log, mux)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/panics", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "internal error") || strings.Contains(rec.Body.String(), "secret-looking") {
		t.Errorf("panicking handler: %d %s, want 500 with a generic error", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logged.String(), "secret-looking detail") || !strings.Contains(logged.String(), "stack_trace") || !strings.Contains(logged.String(), "path=/panics") {
		t.Errorf("the panic is not logged with its stack and path:\n%s", logged.String())
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/fine", nil))
	if rec.Code != http.StatusTeapot || !strings.Contains(rec.Body.String(), `"ok": "yes"`) {
		t.Errorf("a handler that does not panic: %d %s", rec.Code, rec.Body.String())
	}

	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("ErrAbortHandler: recovered %v, want it re-panicked", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
}

package engine

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/go-hclog"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/internal/crash"
)

// reconcileRecovered runs one reconcile of stack. A panic in it (in the
// stack's goroutine; the planner and the applier recover their own) is a
// failed reconcile of that stack alone, with a *crash.Error, phase
// PhasePanic: the stack's lock is released on the way out, and the runner
// goes on with backoff.
func reconcileRecovered(stack string, reconcile func() (*ReconcileResult, error)) (*ReconcileResult, error) {
	var res *ReconcileResult
	err := crash.Catch(func() error {
		var err error
		res, err = reconcile()
		return err
	})
	if res == nil {
		res = &ReconcileResult{Stack: stack, Phase: PhasePanic}
	}
	return res, err
}

// logPanics logs the stack trace of every panic a reconcile recovered: its
// error's, and those of objects whose apply panicked. The failure itself is
// on record as any other (status, metrics, the apply's outcomes); the trace
// is for whoever fixes the bug.
func logPanics(log hclog.Logger, err error, report *apply.Report) {
	var ce *crash.Error
	if errors.As(err, &ce) {
		log.Error("reconcile panicked: a bug in gantry, please report it", "panic", fmt.Sprint(ce.Value), "stack_trace", string(ce.Stack))
	}
	if report == nil {
		return
	}
	for _, o := range report.Outcomes {
		if errors.As(o.Err, &ce) {
			log.Error("apply of an object panicked: a bug in gantry, please report it", "object", o.Ref.String(), "panic", fmt.Sprint(ce.Value), "stack_trace", string(ce.Stack))
		}
	}
}

// recovering serves next, answering 500 with a generic error, and logging
// the panic with its stack trace, when a handler panics: net/http would only
// drop the connection and log to stderr.
func recovering(log hclog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		err := crash.Catch(func() error {
			next.ServeHTTP(w, req)
			return nil
		})
		var ce *crash.Error
		if !errors.As(err, &ce) {
			return
		}
		if ce.Value == http.ErrAbortHandler {
			panic(http.ErrAbortHandler)
		}
		log.Error("HTTP handler panicked: a bug in gantry, please report it", "method", req.Method, "path", req.URL.Path, "panic", fmt.Sprint(ce.Value), "stack_trace", string(ce.Stack))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error: gantry failed to answer this request (a bug; its log has the details)"})
	})
}

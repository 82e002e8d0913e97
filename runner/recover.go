package runner

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/internal/crash"
)

// reconcileRecovered runs one reconcile of stack. A panic in it (in the
// stack's goroutine; the planner and the applier recover their own) is a
// failed reconcile of that stack alone, with a *crash.Error, phase
// engine.PhasePanic: the stack's lock is released on the way out, and the runner
// goes on with backoff.
func reconcileRecovered(stack string, reconcile func() (*engine.ReconcileResult, error)) (*engine.ReconcileResult, error) {
	var res *engine.ReconcileResult
	err := crash.Catch(func() error {
		var err error
		res, err = reconcile()
		return err
	})
	if res == nil {
		res = &engine.ReconcileResult{Stack: stack, Phase: engine.PhasePanic}
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

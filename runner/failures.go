package runner

import (
	"context"
	"strings"
	"time"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/stack"
)

// healthEvent is the health event a reconcile's end records, if any
// (nil): stack.failing when this failure is the threshold-th in a row
// (before failed before it), stack.recovered when it succeeded after at
// least threshold failures. A pure function.
func healthEvent(before int, err error, res *engine.ReconcileResult, threshold int) event.Data {
	switch {
	case err != nil && before+1 == threshold:
		msg, _, _ := strings.Cut(err.Error(), "\n")
		if r := []rune(msg); len(r) > 1000 {
			msg = string(r[:1000]) + "…"
		}
		phase := ""
		if res != nil {
			phase = string(res.Phase)
		}
		return event.StackFailingData{Failures: before + 1, Phase: phase, Error: msg}
	case err == nil && before >= threshold:
		return event.StackRecoveredData{Failures: before}
	}
	return nil
}

// recordHealth records data on the event feed (nothing for nil); a
// failure to record is logged: the next reconcile goes on.
func (r *Runner) recordHealth(ctx context.Context, s stack.Stack, data event.Data) {
	if data == nil {
		return
	}
	if err := r.engine.RecordHealth(ctx, s.Name, r.opts.Actor, data); err != nil {
		r.log.Warn("could not record the stack's health", "stack", s.Name, "event", data.Kind(), "error", err)
	}
}

// backoff is the wait after failures failed reconciles in a row.
func (r *Runner) backoff(s stack.Stack, failures int) time.Duration {
	limit := min(r.opts.MaxBackoff, max(s.Schedule.Interval, r.opts.MinBackoff))
	d := r.opts.MinBackoff
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

package engine

import (
	"context"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/state"
	"github.com/hashicorp/go-hclog"
)

// Decide approves or rejects a pending plan, as `gantry approve` and the
// API do.
func (e *Engine) Decide(ctx context.Context, d state.Decision) (*state.Gate, error) {
	if d.At.IsZero() {
		d.At = e.now()
	}
	return e.store.Decide(ctx, d)
}

// Gates lists plans at the gate, newest first (state.Store.Gates).
func (e *Engine) Gates(ctx context.Context, stack string, status gate.Status, limit int) ([]*state.Gate, error) {
	return e.store.Gates(ctx, stack, status, limit)
}

// Ping reports whether the database answers.
func (e *Engine) Ping(ctx context.Context) error { return e.store.Ping(ctx) }

// Now is the engine's clock (Options.Now).
func (e *Engine) Now() time.Time { return e.now() }

// Logger returns the engine's logger (Options.Logger, named "engine").
func (e *Engine) Logger() hclog.Logger { return e.log }

// RecordHealth records a stack's health event (stack.failing,
// stack.recovered: gantry run's) on the event feed.
func (e *Engine) RecordHealth(ctx context.Context, stack, actor string, data event.Data) error {
	return e.store.Audit(ctx, state.AuditEvent{Stack: stack, Actor: actor, Data: data})
}

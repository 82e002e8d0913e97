package notify

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/state"
)

// Provider sends deliveries to one receiver.
type Provider interface {
	Name() string
	Send(ctx context.Context, d state.Delivery) Attempt
}

// Record is what the dispatcher needs of the record (*state.Store).
type Record interface {
	RouteOutbox(ctx context.Context, route func(stack string, kind event.Kind) []string, limit int, now time.Time) (int, error)
	DueStacks(ctx context.Context, provider string, now time.Time) ([]string, error)
	SendHead(ctx context.Context, provider, stack string, now time.Time, send func(state.Delivery) state.DeliveryResult) (bool, error)
	QueuedDeliveries(ctx context.Context) (map[string]int, error)
}

// Dispatcher routes the outbox and sends what is due, provider by
// provider, stack by stack, each stack's deliveries in order. Several
// dispatchers (replicas of gantry run) share the work through the record:
// each event is routed once, and one process at a time sends to a
// provider for a stack.
type Dispatcher struct {
	Record    Record
	Providers []Provider
	Routes    []Route
	Retry     Retry
	// Poll is how often the outbox is looked at (0: every second).
	Poll time.Duration
	// Timeout bounds one attempt (0: 10 seconds).
	Timeout time.Duration
	Log     hclog.Logger
	Now     func() time.Time
	// Metrics count attempts and queued deliveries (nil: not counted).
	Metrics *Metrics
}

// Once routes the outbox and makes every attempt due now, and returns how
// many attempts it made.
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	route := Router(d.Routes)
	for {
		n, err := d.Record.RouteOutbox(ctx, route, 500, d.now())
		if err != nil {
			return 0, err
		}
		if n < 500 {
			break
		}
	}
	attempts := 0
	for _, p := range d.Providers {
		stacks, err := d.Record.DueStacks(ctx, p.Name(), d.now())
		if err != nil {
			return attempts, err
		}
		for _, stack := range stacks {
			n, err := d.sendDue(ctx, p, stack)
			attempts += n
			if err != nil {
				return attempts, err
			}
		}
	}
	if d.Metrics != nil {
		queued, err := d.Record.QueuedDeliveries(ctx)
		if err != nil {
			return attempts, err
		}
		d.Metrics.setQueued(d.Providers, queued)
	}
	return attempts, nil
}

// maxPerRound bounds the attempts of one stack to one provider in a round,
// so that a stack with a long backlog does not hold the others up.
const maxPerRound = 100

// sendDue sends stack's due deliveries to p, in order, until one fails
// (the rest wait for it) or none is due.
func (d *Dispatcher) sendDue(ctx context.Context, p Provider, stack string) (int, error) {
	attempts := 0
	for attempts < maxPerRound {
		sent := false
		ok, err := d.Record.SendHead(ctx, p.Name(), stack, d.now(), func(del state.Delivery) state.DeliveryResult {
			actx, cancel := context.WithTimeout(ctx, d.timeout())
			defer cancel()
			r := d.retry().Decide(del.Attempts, p.Send(actx, del), d.now())
			d.Metrics.attempt(p.Name(), r)
			d.log().Debug("notification", "provider", p.Name(), "stack", stack, "delivery", del.ID, "event", del.Event.Kind, "sent", r.Sent, "dead", r.Dead, "error", r.Error)
			sent = r.Sent || r.Dead
			return r
		})
		if err != nil || !ok {
			return attempts, err
		}
		attempts++
		if !sent {
			return attempts, nil // retried later: the stack's next deliveries wait
		}
	}
	return attempts, nil
}

// Run calls Once every Poll until ctx ends; an error is logged and the
// next round tries again (the record keeps everything meanwhile).
func (d *Dispatcher) Run(ctx context.Context) {
	poll := d.Poll
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := d.Once(ctx); err != nil && ctx.Err() == nil {
			d.log().Warn("notifications: will try again", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) retry() Retry {
	if d.Retry.Attempts == 0 {
		return DefaultRetry
	}
	return d.Retry
}

func (d *Dispatcher) timeout() time.Duration {
	if d.Timeout <= 0 {
		return 10 * time.Second
	}
	return d.Timeout
}

func (d *Dispatcher) log() hclog.Logger {
	if d.Log == nil {
		return hclog.NewNullLogger()
	}
	return d.Log
}

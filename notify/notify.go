// Package notify announces the event feed (docs/events.md) to the
// providers gantry.yaml's routes name, delivering every event at least
// once, in order per stack and provider (docs/notifications.md). The
// record keeps the outbox and the deliveries (state); this package holds
// the decisions — which provider gets which event (Route), when a failed
// attempt is tried again or given up (Decide) — as pure functions, and at
// its edge the providers' HTTP and the dispatcher's loop.
package notify

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/state"
)

// Route sends the events of Stacks whose kind Kinds match to Providers.
// Stacks and Kinds are shell patterns ("shop-*", "apply.*"); none means
// every one.
type Route struct {
	Stacks    []string
	Kinds     []string
	Providers []string
}

// Router returns the providers each event goes to: those of every route
// that matches its stack and kind, each once, in the order first named.
func Router(routes []Route) func(stack string, kind event.Kind) []string {
	return func(stack string, kind event.Kind) []string {
		var out []string
		for _, r := range routes {
			if !matches(r.Stacks, stack) || !matches(r.Kinds, string(kind)) {
				continue
			}
			for _, p := range r.Providers {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
		return out
	}
}

// matches reports whether s matches one of patterns (none: any).
func matches(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, err := path.Match(p, s); err == nil && ok {
			return true
		}
	}
	return false
}

// Retry says how failed attempts are tried again: after Base, doubling
// each attempt up to Max; after Attempts attempts, dead.
type Retry struct {
	Base, Max time.Duration
	Attempts  int
}

// DefaultRetry: 5 s doubling up to 10 min, 12 attempts (about 40 minutes
// in all), so that a receiver down for minutes misses nothing.
var DefaultRetry = Retry{Base: 5 * time.Second, Max: 10 * time.Minute, Attempts: 12}

// maxRetryAfter bounds how long a receiver's Retry-After may hold its
// deliveries back.
const maxRetryAfter = time.Hour

// Attempt is what one attempt of a delivery came to: the receiver's HTTP
// status (0: no answer), its Retry-After header, and the error.
type Attempt struct {
	Status     int
	RetryAfter string
	Err        error
}

// Decide turns an attempt into the delivery's fate: sent on a 2xx;
// otherwise tried again after the backoff of its attempt number (the
// attempts before it: 0 for the first), or after the receiver's
// Retry-After when that is later (429, 503: at most an hour), and dead once
// it was the last attempt allowed.
func (r Retry) Decide(attempts int, a Attempt, now time.Time) state.DeliveryResult {
	if a.Err == nil && a.Status >= 200 && a.Status < 300 {
		return state.DeliveryResult{Sent: true}
	}
	msg := "HTTP " + strconv.Itoa(a.Status)
	if a.Err != nil {
		msg = a.Err.Error()
	}
	if attempts+1 >= r.Attempts {
		return state.DeliveryResult{Error: msg + " (last attempt: dead)", Dead: true}
	}
	wait := r.Base << attempts
	if wait > r.Max || wait <= 0 {
		wait = r.Max
	}
	if ra, ok := retryAfter(a.RetryAfter, now); ok && ra > wait {
		wait = min(ra, maxRetryAfter)
	}
	return state.DeliveryResult{Error: msg, NextAt: now.Add(wait)}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := time.Parse(time.RFC1123, h); err == nil {
		return t.Sub(now), true
	}
	return 0, false
}

package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/state"
)

func TestRouter(t *testing.T) {
	route := Router([]Route{
		{Stacks: []string{"shop-*"}, Kinds: []string{"apply.*"}, Providers: []string{"ops-webhook", "slack"}},
		{Kinds: []string{"plan.pending"}, Providers: []string{"slack"}},
		{Stacks: []string{"infra"}, Providers: []string{"pager"}},
	})
	rows := []struct {
		stack string
		kind  event.Kind
		want  []string
	}{
		{"shop-eu", event.ApplyFailed, []string{"ops-webhook", "slack"}},
		{"shop-eu", event.PlanPending, []string{"slack"}},
		{"web", event.PlanPending, []string{"slack"}},
		{"web", event.ApplyFailed, nil},
		{"infra", event.GC, []string{"pager"}},
		{"infra", event.PlanPending, []string{"slack", "pager"}},
		{"shop", event.ApplySucceeded, nil},
	}
	for _, row := range rows {
		if diff := cmp.Diff(row.want, route(row.stack, row.kind)); diff != "" {
			t.Errorf("%s %s (-want +got)\n%s", row.stack, row.kind, diff)
		}
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	r := Retry{Base: 5 * time.Second, Max: time.Minute, Attempts: 5}
	rows := []struct {
		name     string
		attempts int
		a        Attempt
		sent     bool
		dead     bool
		wait     time.Duration
		err      string
	}{
		{name: "200", a: Attempt{Status: 200}, sent: true},
		{name: "204", attempts: 3, a: Attempt{Status: 204}, sent: true},
		{name: "500 first", a: Attempt{Status: 500}, wait: 5 * time.Second, err: "HTTP 500"},
		{name: "500 third", attempts: 2, a: Attempt{Status: 500}, wait: 20 * time.Second},
		{name: "backoff capped", attempts: 3, a: Attempt{Status: 502}, wait: 40 * time.Second},
		{name: "no answer", attempts: 1, a: Attempt{Err: errors.New("connection refused")}, wait: 10 * time.Second, err: "connection refused"},
		{name: "429 Retry-After seconds", a: Attempt{Status: 429, RetryAfter: "30"}, wait: 30 * time.Second, err: "HTTP 429"},
		{name: "429 Retry-After shorter than the backoff", attempts: 2, a: Attempt{Status: 429, RetryAfter: "1"}, wait: 20 * time.Second},
		{name: "503 Retry-After date", a: Attempt{Status: 503, RetryAfter: now.Add(90 * time.Second).Format(time.RFC1123)}, wait: 90 * time.Second},
		{name: "Retry-After capped at an hour", a: Attempt{Status: 429, RetryAfter: "86400"}, wait: time.Hour},
		{name: "Retry-After garbage", a: Attempt{Status: 429, RetryAfter: "soon"}, wait: 5 * time.Second},
		{name: "last attempt", attempts: 4, a: Attempt{Status: 500}, dead: true, err: "last attempt: dead"},
		{name: "a 2xx on the last attempt is sent", attempts: 4, a: Attempt{Status: 200}, sent: true},
	}
	for _, row := range rows {
		got := r.Decide(row.attempts, row.a, now)
		if got.Sent != row.sent || got.Dead != row.dead {
			t.Errorf("%s: %+v", row.name, got)
			continue
		}
		if !row.sent && !row.dead && got.NextAt.Sub(now) != row.wait {
			t.Errorf("%s: next in %s, want %s", row.name, got.NextAt.Sub(now), row.wait)
		}
		if !strings.Contains(got.Error, row.err) {
			t.Errorf("%s: error %q, want %q", row.name, got.Error, row.err)
		}
	}
}

func TestSummary(t *testing.T) {
	plan := state.PlanContext{Repo: "https://git.example.com/shop.git", Commit: "0123456789abcdef0123", Add: 2, Change: 1, Destroy: 3}
	rows := []struct {
		e    state.AuditEvent
		p    state.PlanContext
		want string
	}{
		{state.AuditEvent{Stack: "shop", Kind: event.ApplySucceeded, PlanID: "0c3e9a1b-aaaa", Actor: "gantry-run"}, plan,
			"shop: apply succeeded (plan 0c3e9a1b) of https://git.example.com/shop.git at 0123456789ab, +2 ~1 -3 by gantry-run"},
		{state.AuditEvent{Stack: "shop", Kind: event.PlanPending, PlanID: "0c3e9a1b-aaaa", Actor: "gantry-run", Details: map[string]any{"reason": "destructive: deletes Namespace shop\nand more"}}, plan,
			"shop: plan waits for approval (plan 0c3e9a1b) of https://git.example.com/shop.git at 0123456789ab, +2 ~1 -3 by gantry-run: destructive: deletes Namespace shop"},
		{state.AuditEvent{Stack: "shop", Kind: event.ObjectPruned, PlanID: "0c3e9a1b-aaaa"}, plan,
			"shop: object pruned (plan 0c3e9a1b) of https://git.example.com/shop.git at 0123456789ab"},
		{state.AuditEvent{Stack: "web", Kind: event.ApplyFailed, Actor: "alice", Details: map[string]any{"error": strings.Repeat("x", 300)}}, state.PlanContext{},
			"web: apply failed by alice: " + strings.Repeat("x", 200) + "…"},
		{state.AuditEvent{Stack: "web", Kind: "something.new"}, state.PlanContext{}, "web: something.new"},
	}
	for _, row := range rows {
		if got := Summary(row.e, row.p); got != row.want {
			t.Errorf("%s: %q\nwant %q", row.e.Kind, got, row.want)
		}
	}
}

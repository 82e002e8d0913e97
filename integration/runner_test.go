package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// startRunner runs s's stack in a Runner that polls approvals often.
func startRunner(t *testing.T, s *harness.Stack) *harness.RunningEngine {
	opts := runner.DefaultOptions()
	opts.ApprovalPoll = 200 * time.Millisecond
	return harness.StartRunner(t, s, opts)
}

// TestRunnerWebhookAPIAndMetrics drives gantry run's loop through its HTTP
// surface: a signed push triggers a reconcile, a bad signature or an
// oversized body triggers nothing, a no-change reconcile sends no API
// request, a destructive commit waits and is approved through the API,
// and the metrics say so.
func TestRunnerWebhookAPIAndMetrics(t *testing.T) {
	t.Parallel()
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1", "b", "1"))
	s, ns := engineStack(t, "runner", repo, nil)
	e := startRunner(t, s)
	expectOutcome(t, e.Next(), gate.Applied)
	wantLive(t, ns, "runner", map[string]string{"a": "1", "b": "1"})
	if code, body := e.Do("GET", "/readyz", "", nil, nil); code != 200 {
		t.Errorf("/readyz = %d %s after the first reconcile", code, body)
	}
	if code, _ := e.Do("GET", "/healthz", "", nil, nil); code != 200 {
		t.Errorf("/healthz = %d", code)
	}

	repo.Push("a=2", harness.ConfigMaps("a", "2", "b", "1"))
	if code, body := e.Webhook(repo.URL, "wrong-secret", 0); code != http.StatusUnauthorized {
		t.Errorf("webhook with a bad signature = %d %s, want 401", code, body)
	}
	if code, body := e.Webhook(repo.URL, harness.WebhookSecret, 100<<10); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized webhook = %d %s, want 413", code, body)
	}
	e.Quiet("after refused webhooks")
	wantLive(t, ns, "runner", map[string]string{"a": "1", "b": "1"})

	code, body := e.Webhook(repo.URL, harness.WebhookSecret, 0)
	if code != http.StatusAccepted || !strings.Contains(body, `"runner"`) {
		t.Fatalf("signed push = %d %s, want 202 triggering runner", code, body)
	}
	expectOutcome(t, e.Next(), gate.Applied)
	wantLive(t, ns, "runner", map[string]string{"a": "2", "b": "1"})

	// Nothing changed: the reconcile, asked for through the API, costs no
	// API request beyond the watches.
	if code, body := e.Do("POST", "/api/v1/stacks/nope/reconcile", harness.APIToken, nil, nil); code != http.StatusNotFound {
		t.Errorf("reconcile of an unknown stack = %d %s, want 404", code, body)
	}
	if code, body := e.Do("POST", "/api/v1/stacks/runner/reconcile", harness.APIToken, nil, nil); code != http.StatusAccepted {
		t.Fatalf("reconcile = %d %s, want 202", code, body)
	}
	res := e.Next()
	expectOutcome(t, res, gate.Unchanged)
	if res.Requests != 0 {
		t.Errorf("a no-change reconcile sent %d API requests, want 0", res.Requests)
	}

	// Destructive: waits; the API lists it and approves it.
	repo.Push("drop b", harness.ConfigMaps("a", "2"))
	if code, _ := e.Webhook(repo.URL, harness.WebhookSecret, 0); code != http.StatusAccepted {
		t.Fatalf("push = %d", code)
	}
	res = e.Next()
	expectOutcome(t, res, gate.Pending)
	for _, token := range []string{"", "wrong"} {
		if code, _ := e.Do("GET", "/api/v1/plans?status=pending", token, nil, nil); code != http.StatusUnauthorized {
			t.Errorf("API with token %q = %d, want 401", token, code)
		}
	}
	code, body = e.Do("GET", "/api/v1/plans?status=pending", harness.APIToken, nil, nil)
	if code != 200 || !strings.Contains(body, res.Plan.ID) {
		t.Fatalf("pending plans = %d %s, want %s", code, body, res.Plan.ID)
	}
	if code, body := e.Do("GET", "/api/v1/plans/"+res.Plan.ID, harness.APIToken, nil, nil); code != 200 || !strings.Contains(body, `"action": "delete"`) {
		t.Errorf("GET plan = %d %.300s", code, body)
	}
	code, body = e.Do("POST", "/api/v1/plans/"+res.Plan.ID+"/approve", harness.APIToken, []byte(`{"actor": "carol", "reason": "b is unused"}`), nil)
	if code != 200 || !strings.Contains(body, `"approved"`) {
		t.Fatalf("approve = %d %s", code, body)
	}
	if code, body := e.Do("POST", "/api/v1/plans/"+res.Plan.ID+"/reject", harness.APIToken, nil, nil); code != http.StatusConflict {
		t.Errorf("rejecting an approved plan = %d %s, want 409", code, body)
	}
	expectOutcome(t, e.Next(), gate.Applied)
	wantLive(t, ns, "runner", map[string]string{"a": "2"})
	var actor string
	if err := queryRow(t, s, `SELECT actor FROM audit_events WHERE kind = 'plan.approved'`).Scan(&actor); err != nil || actor != "api:carol" {
		t.Errorf("approver = %q (%v), want api:carol", actor, err)
	}

	code, body = e.Do("GET", "/metrics", "", nil, nil)
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`gantry_reconciles_total{phase="apply",result="applied",stack="runner"} 3`,
		`gantry_reconciles_total{phase="gate",result="pending",stack="runner"} 1`,
		`gantry_reconciles_total{phase="gate",result="unchanged",stack="runner"} 1`,
		`gantry_pending_approvals{stack="runner"} 0`,
		`gantry_plan_changes{action="delete",stack="runner"} 1`,
		`gantry_webhooks_total{result="unauthorized"} 1`,
		`gantry_webhooks_total{result="too-large"} 1`,
		`gantry_plan_duration_seconds_count{stack="runner"}`,
		`gantry_apply_duration_seconds_count{stack="runner"} 3`,
		`gantry_last_success_timestamp_seconds{stack="runner"}`,
		`gantry_drift_detected{stack="runner"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	code, body = e.Do("GET", "/api/v1/stacks", harness.APIToken, nil, nil)
	if code != 200 || !strings.Contains(body, `"outcome": "applied"`) {
		t.Errorf("stacks = %d %s", code, body)
	}
}

// TestRunnerPollsGit: without any webhook, each interval fetches the ref
// and applies what was pushed.
func TestRunnerPollsGit(t *testing.T) {
	t.Parallel()
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1"))
	s, ns := engineStack(t, "poll", repo, func(d *stack.Stack) {
		d.Schedule = stack.Schedule{Interval: 300 * time.Millisecond, Jitter: 100 * time.Millisecond}
	})
	e := harness.StartRunner(t, s, runner.DefaultOptions())
	expectOutcome(t, e.Next(), gate.Applied)
	repo.Push("a=2", harness.ConfigMaps("a", "2"))
	harness.Eventually(t, 30*time.Second, "the pushed commit applied by a scheduled reconcile", func(context.Context) error {
		if res := e.Next(); res.Outcome != gate.Applied {
			return fmt.Errorf("outcome %s", res.Outcome)
		}
		return nil
	})
	wantLive(t, ns, "poll", map[string]string{"a": "2"})
}

// TestTwoRunnersOneDatabase: two engines on one Postgres, both triggered
// for every commit, apply each commit once and never at the same time.
func TestTwoRunnersOneDatabase(t *testing.T) {
	t.Parallel()
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "0"))
	s, ns := engineStack(t, "twins", repo, nil)
	twin := env.NewStackOn(t, s.Def, s.DSN)
	a, b := startRunner(t, s), startRunner(t, twin)
	first := []*engine.ReconcileResult{a.Next(), b.Next()}
	applied := 0
	for _, r := range first {
		if r.Outcome == gate.Applied {
			applied++
		}
	}
	if applied != 1 {
		t.Errorf("first commit applied %d times by two engines, want once (%s, %s)", applied, first[0].Outcome, first[1].Outcome)
	}
	for i := 1; i <= 4; i++ {
		repo.Push(fmt.Sprint("a=", i), harness.ConfigMaps("a", fmt.Sprint(i)))
		var wg sync.WaitGroup
		for _, e := range []*harness.RunningEngine{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code, body := e.Webhook(repo.URL, harness.WebhookSecret, 0); code != http.StatusAccepted {
					t.Errorf("webhook = %d %s", code, body)
				}
			}()
		}
		wg.Wait()
		a.Next()
		b.Next()
		// Whichever engine lost the race either found the lock taken or
		// found nothing left to do; one more look settles it.
		harness.Eventually(t, 10*time.Second, "commit applied", func(context.Context) error {
			if got := liveConfigMaps(t, ns, "twins")["a"]["v"]; got != fmt.Sprint(i) {
				a.Runner.Trigger("twins")
				a.Next()
				return fmt.Errorf("a = %s", got)
			}
			return nil
		})
	}
	entries, err := s.Store.History(context.Background(), "twins", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Errorf("%d applies for 5 commits, want 5 (one each)", len(entries))
	}
	for _, en := range entries {
		if en.Status != state.ApplySucceeded {
			t.Errorf("apply %s: %s %s", en.ApplyID, en.Status, en.Error)
		}
	}
	// Applies never overlapped: each started after the one before finished.
	for i := 0; i+1 < len(entries); i++ {
		newer, older := entries[i], entries[i+1]
		if older.FinishedAt == nil || newer.StartedAt.Before(*older.FinishedAt) {
			t.Errorf("apply %s started at %s, before %s finished at %v", newer.ApplyID, newer.StartedAt, older.ApplyID, older.FinishedAt)
		}
	}
	for _, e := range []*harness.RunningEngine{a, b} {
		if code, body := e.Do("GET", "/readyz", "", nil, nil); code != 200 {
			t.Errorf("/readyz = %d %s", code, body)
		}
	}
}

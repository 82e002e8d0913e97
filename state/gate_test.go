package state_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/state"
)

func TestGate(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	first, second := recordPlan(t, s, "web"), recordPlan(t, s, "web")

	if err := s.Pend(ctx, first, "web", "destructive: deletes 1 object", "engine", at); err != nil {
		t.Fatal(err)
	}
	if err := s.Pend(ctx, first, "web", "destructive: deletes 1 object", "engine", at); err != nil {
		t.Fatalf("pending the same plan again: %v", err)
	}
	open, err := s.LatestGate(ctx, "web")
	if err != nil || !open.Open() || open.PlanID != first || open.Status != gate.StatusPending || open.Reason != "destructive: deletes 1 object" {
		t.Fatalf("LatestGate = %+v, %v; want the first plan pending", open, err)
	}

	// A newer plan supersedes the waiting one: one plan waits per stack.
	if err := s.Pend(ctx, second, "web", "manual approval", "engine", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	pending, err := s.Gates(ctx, "", gate.StatusPending, 0)
	if err != nil || len(pending) != 1 || pending[0].PlanID != second {
		t.Fatalf("pending = %+v, %v; want only the second plan", pending, err)
	}
	if _, err := s.Decide(ctx, state.Decision{PlanID: first, Approve: true, Actor: "alice", At: at}); !errors.Is(err, state.ErrNotPending) || !strings.Contains(err.Error(), "superseded") {
		t.Errorf("approving a superseded plan: %v, want ErrNotPending saying superseded", err)
	}

	// Approval is bound to the digest and recorded; a second decision is refused.
	g, err := s.Decide(ctx, state.Decision{PlanID: second[:8], Approve: true, Actor: "alice", Reason: "cleanup ok", At: at.Add(2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != gate.StatusApproved || g.ApprovedDigest != "sha256:test" || g.DecidedBy != "alice" {
		t.Errorf("approved gate = %+v", g)
	}
	if _, err := s.Decide(ctx, state.Decision{PlanID: second, Approve: false, Actor: "bob", At: at}); !errors.Is(err, state.ErrNotPending) || !strings.Contains(err.Error(), "approved (by alice") {
		t.Errorf("rejecting an approved plan: %v, want ErrNotPending naming the approver", err)
	}
	// The engine applies it: approved -> applied, once.
	if ok, err := s.CloseGate(ctx, second, gate.StatusApproved, gate.StatusApplied, "engine", "", at); err != nil || !ok {
		t.Fatalf("CloseGate approved->applied = %v, %v", ok, err)
	}
	if ok, _ := s.CloseGate(ctx, second, gate.StatusApproved, gate.StatusApplied, "engine", "", at); ok {
		t.Error("closing the gate twice succeeded")
	}
	// A plan approved and then found stale: marked so, with its audit event.
	staleID := recordPlan(t, s, "web")
	if err := s.Pend(ctx, staleID, "web", "manual approval", "engine", at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decide(ctx, state.Decision{PlanID: staleID, Approve: true, Actor: "alice", At: at}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.CloseGate(ctx, staleID, gate.StatusApproved, gate.StatusStale, "engine", "the cluster changed", at); err != nil || !ok {
		t.Fatalf("CloseGate approved->stale = %v, %v", ok, err)
	}
	if latest, err := s.LatestGate(ctx, "web"); err != nil || latest.Open() || latest.Status != gate.StatusStale || latest.DecisionReason != "the cluster changed" {
		t.Errorf("LatestGate after stale = %+v, %v", latest, err)
	}
	if _, err := s.Decide(ctx, state.Decision{PlanID: second, Approve: true, Actor: "alice", At: at}); !errors.Is(err, state.ErrNotPending) {
		t.Errorf("deciding an applied plan: %v", err)
	}
	if latest, err := s.LatestGate(ctx, "web"); err != nil || latest.Open() {
		t.Errorf("LatestGate = %+v, %v; want it closed", latest, err)
	}

	// Rejection, and a plan that never waited.
	third := recordPlan(t, s, "web")
	if err := s.Pend(ctx, third, "web", "manual approval", "engine", at); err != nil {
		t.Fatal(err)
	}
	if g, err := s.Decide(ctx, state.Decision{PlanID: third, Actor: "bob", Reason: "not today", At: at}); err != nil || g.Status != gate.StatusRejected {
		t.Fatalf("reject = %+v, %v", g, err)
	}
	never := recordPlan(t, s, "web")
	if _, err := s.Decide(ctx, state.Decision{PlanID: never, Approve: true, Actor: "bob", At: at}); !errors.Is(err, state.ErrNotPending) || !strings.Contains(err.Error(), "never waited") {
		t.Errorf("approving a plan that never waited: %v", err)
	}

	events, err := s.AuditLog(ctx, "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	count := map[event.Kind]int{}
	for _, e := range events {
		count[e.Kind]++
		if e.Kind == event.PlanApproved && e.PlanID == second && (e.Actor != "alice" || e.Details["digest"] != "sha256:test" || e.Details["reason"] != "cleanup ok") {
			t.Errorf("approval event = %+v", e)
		}
	}
	for kind, want := range map[event.Kind]int{event.PlanPending: 4, event.PlanSuperseded: 1, event.PlanApproved: 2, event.PlanRejected: 1, event.PlanStale: 1} {
		if count[kind] != want {
			t.Errorf("%d %s events, want %d", count[kind], kind, want)
		}
	}
}

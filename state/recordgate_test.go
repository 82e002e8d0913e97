package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/state"
)

// unwritable is event data that cannot be encoded: the last write of a
// gate decision fails.
type unwritable struct{ C chan int }

func (unwritable) Kind() event.Kind { return event.DriftDetected }

// TestRecordGateIsOneTransaction: a decision of the gate (a new plan
// recorded, the waiting plan superseded, the new one pended, an event) is
// recorded whole or not at all. When its last write fails, the new plan is
// not on record, the plan that waited still waits, and no event of the
// decision was kept; the same decision with a good event records it all.
func TestRecordGateIsOneTransaction(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	ctx := context.Background()
	waiting := recordPlan(t, s, "web")
	if err := s.Pend(ctx, waiting, "web", "approval: manual", "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	decision := func(data event.Data) state.GateRecord {
		return state.GateRecord{Stack: "web", Actor: "gantry-run", At: time.Now(), PlanID: "", Plan: &state.PlanRecord{
			ID: state.NewID(), Stack: "web", Digest: "sha256:new", Body: []byte(`{"id":"y"}`), HasChanges: true,
			Revision:  &state.Revision{ID: state.NewID(), Stack: "web", Objects: configMaps(2, func(int) string { return "2" })},
			CreatedBy: "gantry-run", CreatedAt: time.Now(),
		}, Supersede: "superseded by the new plan", KeepPlan: true, Pend: "approval: manual", Event: data}
	}
	failing := decision(unwritable{})
	failing.PlanID = failing.Plan.ID
	if err := s.RecordGate(ctx, failing); err == nil {
		t.Fatal("a decision whose event cannot be written was recorded")
	}
	if _, err := s.PlanBody(ctx, failing.PlanID); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("the new plan after the failed decision: %v, want not recorded", err)
	}
	if g, err := s.LatestGate(ctx, "web"); err != nil || g.PlanID != waiting || g.Status != gate.StatusPending {
		t.Errorf("the gate after the failed decision: %+v, %v; want plan %s still pending", g, err, waiting)
	}
	if n := countWhere(t, dsn, "audit_events", "kind IN ('plan.superseded', 'drift.detected') OR (kind = 'plan.created' AND plan_id = '"+failing.PlanID+"')"); n != 0 {
		t.Errorf("%d events of the failed decision kept, want none", n)
	}

	ok := decision(event.DriftDetectedData{Drifted: []string{"ConfigMap/web/a"}})
	ok.PlanID = ok.Plan.ID
	if err := s.RecordGate(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if g, err := s.LatestGate(ctx, "web"); err != nil || g.PlanID != ok.PlanID || g.Status != gate.StatusPending {
		t.Errorf("the gate after the decision: %+v, %v; want the new plan pending", g, err)
	}
	for kind, want := range map[string]int{"plan.superseded": 1, "drift.detected": 1, "plan.pending": 2} {
		if n := countWhere(t, dsn, "audit_events", "kind = '"+kind+"'"); n != want {
			t.Errorf("%d %s events, want %d", n, kind, want)
		}
	}
}

package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
)

func recordPlan(t *testing.T, s *state.Store, stack string) string {
	t.Helper()
	p := &state.PlanRecord{
		ID: state.NewID(), Stack: stack, Digest: "sha256:test", Body: []byte(`{"id":"x"}`), HasChanges: true,
		Revision:  &state.Revision{ID: state.NewID(), Stack: stack, Objects: configMaps(2, func(int) string { return "1" })},
		CreatedBy: "alice", CreatedAt: time.Now(),
	}
	if err := s.RecordPlan(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordPlan(context.Background(), p); err != nil {
		t.Fatalf("recording a plan again (a retry): %v", err)
	}
	return p.ID
}

func TestApplyRecords(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	ctx := context.Background()
	planID := recordPlan(t, s, "web")
	loaded, err := s.Plan(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.CreatedBy != "alice" || len(loaded.Revision.Objects) != 2 || string(loaded.Body) != `{"id": "x"}` {
		t.Errorf("loaded plan: %+v (body %s)", loaded, loaded.Body)
	}

	id := state.NewID()
	if err := s.StartApply(ctx, state.ApplyStart{ID: id, PlanID: planID, Stack: "web", Actor: "alice", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cm := object.Ref{Kind: "ConfigMap", Namespace: "app", Name: "cm-000"}
	finish := state.ApplyFinish{
		ID: id, PlanID: planID, Stack: "web", Actor: "alice", Status: state.ApplySucceeded,
		Outcomes:   []state.Outcome{{Ref: cm, Action: "create", Result: "applied", Ready: "Current", Duration: 12 * time.Millisecond}},
		Inventory:  []plan.InventoryObject{{Ref: cm, APIVersion: "v1"}},
		Memo:       map[object.Ref]plan.MemoEntry{cm: {Desired: object.Hash{1}, Live: object.Hash{2}}},
		FinishedAt: time.Now(),
	}
	// An inventory moved meanwhile: nothing of the apply's end is written.
	wrong := finish
	wrong.ExpectGeneration = 7
	if _, err := s.FinishApply(ctx, wrong); !errors.Is(err, state.ErrInventoryMoved) {
		t.Fatalf("finish against a moved inventory: %v", err)
	}
	if n := countWhere(t, dsn, "apply_outcomes", "true"); n != 0 {
		t.Fatalf("a failed FinishApply left %d outcome rows", n)
	}
	gen, err := s.FinishApply(ctx, finish)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.FinishApply(ctx, finish); err != nil || again != gen {
		t.Errorf("retrying FinishApply: gen %d, %v; want %d, nil", again, err, gen)
	}
	a, err := s.Apply(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != state.ApplySucceeded || a.FinishedAt == nil {
		t.Errorf("apply: %+v", a)
	}
	if diff := cmp.Diff(finish.Outcomes, a.Outcomes); diff != "" {
		t.Errorf("outcomes (-want +got)\n%s", diff)
	}
	if g, inv, _ := s.Inventory(ctx, "web"); g != gen || len(inv) != 1 {
		t.Errorf("inventory at %d: %v", g, inv)
	}
	if memo, _ := s.Memo(ctx, "web"); memo[cm] != finish.Memo[cm] {
		t.Errorf("memo %v", memo)
	}
	for kind, want := range map[string]int{"plan.created": 1, "apply.started": 1, "apply.succeeded": 1} {
		if n := countWhere(t, dsn, "audit_events", "kind = '"+kind+"'"); n != want {
			t.Errorf("%s events: %d, want %d", kind, n, want)
		}
	}
}

// TestRecoveryKeepsHooksOut: a dead apply's intents join the inventory
// (what it may have made stays tracked), but its hooks' do not: a hook is
// a run, never kept, and a generated hook's ref names no object.
func TestRecoveryKeepsHooksOut(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	ctx := context.Background()
	objs := configMaps(1, func(int) string { return "1" })
	hook := func(meta map[string]any) *unstructured.Unstructured {
		meta["namespace"], meta["annotations"] = "app", map[string]any{"helm.sh/hook": "pre-upgrade"}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}}
	}
	objs = append(objs, hook(map[string]any{"name": "migrate"}), hook(map[string]any{"generateName": "report-"}))
	p := &state.PlanRecord{ID: state.NewID(), Stack: "web", Digest: "sha256:test", Body: []byte(`{"id":"x"}`), HasChanges: true,
		Revision: &state.Revision{ID: state.NewID(), Stack: "web", Objects: objs}, CreatedBy: "alice", CreatedAt: time.Now()}
	if err := s.RecordPlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	var intent []state.Outcome
	for _, u := range objs {
		intent = append(intent, state.Outcome{Ref: object.RefOf(u), Action: "create"})
	}
	if err := s.StartApply(ctx, state.ApplyStart{ID: state.NewID(), PlanID: p.ID, Stack: "web", Actor: "alice", StartedAt: time.Now(), Intent: intent}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecoverDead(ctx, "web", "bob"); err != nil {
		t.Fatal(err)
	}
	_, inv, err := s.Inventory(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv) != 1 || inv[0].Ref.Name != "cm-000" {
		t.Errorf("inventory after recovery %v, want only cm-000 (not the hooks)", inv)
	}
}

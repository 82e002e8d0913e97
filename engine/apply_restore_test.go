package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/plan"
)

func (w *world) plan() *plan.Plan {
	w.t.Helper()
	p, err := w.engine.Plan(context.Background(), engine.PlanRequest{Stack: w.stack, Cluster: w.cluster, Actor: "alice"})
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) apply(p *plan.Plan, approved bool) error {
	w.t.Helper()
	opts := apply.DefaultOptions()
	opts.Wait = false
	_, err := w.engine.Apply(context.Background(), engine.ApplyRequest{Plan: p, Cluster: w.cluster, Actor: "alice", Approved: approved, Options: opts})
	return err
}

// TestApplyDestructive: a plan deleting more of the inventory than the
// stack allows is refused unless approved — before its first write, on
// record — and, approved, applies its creates and then prunes.
func TestApplyDestructive(t *testing.T) {
	w := newWorld(t, "    approval: auto\n")
	if err := w.apply(w.plan(), false); err != nil {
		t.Fatal(err)
	}
	w.repo.Git("rm", "-q", "deploy/cm.yaml")
	w.repo.Commit("api instead of web", map[string]string{"deploy/api.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api}\n"})
	p := w.plan()
	if len(p.Destructive) == 0 {
		t.Fatalf("deleting half the inventory: not destructive (%v)", changesOf(p))
	}
	before := len(w.cluster.Writes())
	var refused *engine.RefusedError
	if err := w.apply(p, false); !errors.As(err, &refused) || len(w.cluster.Writes()) != before || count(w.record.kinds(), event.ApplyRefused) != 1 {
		t.Fatalf("unapproved destructive apply: %v, writes %v, events %v; want refused before any write, on record", err, w.cluster.Writes()[before:], w.record.kinds())
	}
	if err := w.apply(p, true); err != nil {
		t.Fatal(err)
	}
	got := w.cluster.Writes()[before:]
	if len(got) != 2 || got[0] != "apply ConfigMap/shop/api" || got[1] != "delete ConfigMap/shop/web" {
		t.Errorf("writes %v, want the create, then the prune", got)
	}
	if gen, _, _ := w.record.Inventory(context.Background(), "web"); gen != 2 {
		t.Errorf("inventory generation %d, want 2 (two applies)", gen)
	}
}

// TestRestoreHoldsTheStack: a restore plans the cluster back to a recorded
// revision from the record alone, applies like any plan, and holds the
// stack: the commit it replaced is not applied again by the next reconcile.
func TestRestoreHoldsTheStack(t *testing.T) {
	w := newWorld(t, "    approval: auto\n")
	if res := w.reconcile(); res.Outcome != gate.Applied {
		t.Fatalf("first reconcile: %s", res.Outcome)
	}
	w.repo.Commit("two", map[string]string{"deploy/cm.yaml": configMap("2")})
	if res := w.reconcile(); res.Outcome != gate.Applied || w.value() != "2" {
		t.Fatalf("second commit: %s, value %q", res.Outcome, w.value())
	}
	r, err := w.engine.Restore(context.Background(), engine.RestoreRequest{Stack: "web", Cluster: w.cluster, To: "1", Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision.Number != 1 || r.Plan.RestoredFrom != r.Revision.ID || len(changesOf(r.Plan)) != 1 {
		t.Fatalf("restore plan: revision %+v, restored from %q, changes %v", r.Revision, r.Plan.RestoredFrom, changesOf(r.Plan))
	}
	if err := w.apply(r.Plan, false); err != nil {
		t.Fatal(err)
	}
	if w.value() != "1" {
		t.Fatalf("after the restore: value %q, want 1", w.value())
	}
	if hold, _ := w.record.HoldOf(context.Background(), "web"); hold == nil || hold.Revision.Number == 0 {
		t.Fatalf("hold %+v, want the stack held on the restored revision", hold)
	}
	if res := w.reconcile(); res.Outcome != gate.Held || w.value() != "1" {
		t.Errorf("reconcile of the replaced commit: %s %q, value %q; want held, nothing applied", res.Outcome, res.Reason, w.value())
	}
}

// changesOf lists p's changes as "action ref".
func changesOf(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Action != plan.ActionNoop {
			out = append(out, string(c.Action)+" "+c.Ref.String())
		}
	}
	return out
}

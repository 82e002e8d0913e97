package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
)

// TestRestoredFromCannotBeEdited: a planfile edited to make a plan a
// restore (which skips the stack's hold and sets one when applied), or to
// stop a restore being one, is refused with the stack's real key; a
// recorded restore loads back whole (docs/plan.md, "What an apply trusts
// in a plan"). Before, both edits were accepted.
func TestRestoredFromCannotBeEdited(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	s := env.NewStack(t, stackDef("trust", ns))
	for _, v := range []string{"1", "2"} {
		s.Apply(t, s.Plan(t, parseObjects(t, configMapDoc("a", v)), plan.DiffAuto))
	}
	r, err := s.Engine.Restore(ctx, engine.RestoreRequest{Stack: "trust", Cluster: s.Kube, To: "1"})
	if err != nil {
		t.Fatal(err)
	}
	restore, head := r.Plan, s.Plan(t, parseObjects(t, configMapDoc("a", "3")), plan.DiffAuto)
	// file is p's planfile with its top-level field restored_from set to
	// from ("" removes it).
	file := func(p *plan.Plan, from string) []byte {
		var b bytes.Buffer
		if err := planfile.Write(&b, p); err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(&b)
		dec.UseNumber()
		m := map[string]any{}
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		delete(m, "restored_from")
		if from != "" {
			m["restored_from"] = from
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if restore.RestoredFrom == "" {
		t.Fatal("the restore plan does not say what it restores")
	}
	for name, edited := range map[string][]byte{
		"made a restore":      file(head, restore.RestoredFrom),
		"no longer a restore": file(restore, ""),
	} {
		if _, err := s.Engine.ReadPlanfile(ctx, bytes.NewReader(edited)); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
			t.Errorf("%s: err = %v, want the planfile refused", name, err)
		}
	}
	for _, p := range []*plan.Plan{head, restore} {
		if _, err := s.Engine.ReadPlanfile(ctx, bytes.NewReader(file(p, p.RestoredFrom))); err != nil {
			t.Errorf("plan %s's own planfile: %v", p.ID, err)
		}
	}
	s.Apply(t, restore)
	loaded, err := s.Engine.LoadPlan(ctx, restore.ID)
	if err != nil {
		t.Fatalf("the recorded restore: %v", err)
	}
	if loaded.RestoredFrom != restore.RestoredFrom {
		t.Errorf("the recorded restore restores %q, want %q", loaded.RestoredFrom, restore.RestoredFrom)
	}
}

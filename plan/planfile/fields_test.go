package planfile

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/plantest"
)

// planfileFields says, for every field of a planfile, how an edit to it is
// caught: "digest" (the digest covers it: the file is refused), or why an
// edit is harmless (what the apply reads instead). docs/plan.md, "What an
// apply trusts in a plan", is this table.
var planfileFields = map[string]string{
	"format_version":       "digest",
	"id":                   "harmless: the plan's name on record; an ID taken by another plan is refused when the plan is recorded",
	"stack":                "digest",
	"source":               "digest",
	"cluster":              "digest",
	"created_at":           "harmless: when planned, on record only",
	"mode":                 "digest",
	"approximate":          "harmless: Plan.IsApproximate decides from mode",
	"options":              "digest",
	"desired":              "digest",
	"base":                 "digest",
	"inventory_generation": "digest",
	"changes":              "digest",
	"destructive":          "digest",
	"restored_from":        "digest",
	"digest":               "digest",
	"held":                 "harmless: decided again at apply time from the stack's hold (engine.heldAgainst); restores are restored_from, in the digest",
	"rollback":             "harmless: decided again at apply time from the record (engine.rollback)",
	"base_commit":          "harmless: shown only",
	"stats":                "harmless: shown only",
}

// TestPlanfileFieldEdits edits each field of a planfile in turn, adding,
// changing and removing it: an edit of a field the digest covers is
// refused; an edit of any other field is accepted and changes nothing the
// apply decides from the plan. A field added to Plan without a row here
// fails the test: each must be covered or recomputed.
func TestPlanfileFieldEdits(t *testing.T) {
	t.Parallel()
	for _, f := range reflect.VisibleFields(reflect.TypeFor[plan.Plan]()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if _, ok := planfileFields[name]; !ok {
			t.Errorf("Plan field %s (%q) is not in planfileFields: put it in the digest, or say why an edit is harmless", f.Name, name)
		}
	}

	local := plantest.Example(t)
	local.Mode, local.Approximate = plan.DiffLocal, true
	restore := plantest.Example(t)
	restore.RestoredFrom = "6f1c1b1e-0000-4000-8000-000000000001"
	gated := plantest.Example(t)
	gated.Held, gated.Rollback, gated.BaseCommit = "the stack is held", "goes back", "fedcba9876543210fedcba9876543210fedcba98"
	for _, p := range []*plan.Plan{local, restore, gated} {
		var err error
		if p.Digest, err = plan.Digest(p, plantest.Key); err != nil {
			t.Fatal(err)
		}
	}
	edits := []any{"x", 7, true, nil, map[string]any{"a": "b"}, []any{}}

	for _, p := range []*plan.Plan{plantest.Example(t), local, restore, gated} {
		file := planfileJSON(t, p)
		for name, how := range planfileFields {
			for _, v := range edits {
				edited := map[string]any{}
				for k, x := range file {
					edited[k] = x
				}
				if v == nil {
					delete(edited, name)
				} else {
					edited[name] = v
				}
				if reflect.DeepEqual(edited, file) {
					continue
				}
				b, err := json.Marshal(edited)
				if err != nil {
					t.Fatal(err)
				}
				if same(t, p, b) {
					continue // not an edit: the plan reads the same
				}
				q, err := Read(bytes.NewReader(b), plantest.KeyOf)
				switch {
				case how == "digest" && err == nil:
					t.Errorf("plan (mode %s, restored_from %q): %s set to %v was accepted; the digest does not cover it", p.Mode, p.RestoredFrom, name, v)
				case how != "digest" && err == nil && q.IsApproximate() != p.IsApproximate():
					t.Errorf("plan (mode %s): %s set to %v makes it approximate=%v", p.Mode, name, v, q.IsApproximate())
				case how != "digest" && err == nil && q.RestoredFrom != p.RestoredFrom:
					t.Errorf("plan: %s set to %v makes it a restore", name, v)
				}
			}
		}
	}
}

// same reports whether the planfile b reads as p (or does not read).
func same(t *testing.T, p *plan.Plan, b []byte) bool {
	t.Helper()
	q, err := ReadUnverified(bytes.NewReader(b))
	if err != nil {
		return false
	}
	want, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(want, got)
}

// planfileJSON is p's planfile as JSON values.
func planfileJSON(t *testing.T, p *plan.Plan) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	out := map[string]any{}
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

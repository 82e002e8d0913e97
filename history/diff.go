package history

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/ssa"
	"github.com/gantryops/gantry/sensitive"
	"github.com/gantryops/gantry/state"
)

// Point names one recorded revision in a Diff.
type Point struct {
	// Number is the stack's number for the revision (shop@3).
	Number int `json:"number"`
	// ID is the revision's ID.
	ID string `json:"id"`
	// Commit is the commit it was rendered from.
	Commit string `json:"commit"`
}

// ObjectDiff is one object that differs between two revisions.
type ObjectDiff struct {
	// Ref names the object.
	Ref object.Ref `json:"ref"`
	// Fields lists the changed fields of a changed object (Secret values
	// marked sensitive, without values); empty for added and removed ones.
	Fields []ssa.FieldDiff `json:"fields,omitempty"`
	// Before and After are the object in each revision, stripped of server
	// fields and with Secret values masked; nil where it is absent.
	Before *unstructured.Unstructured `json:"-"`
	After  *unstructured.Unstructured `json:"-"`
}

// Diff is the difference between two recorded revisions of a stack.
// Every object of either revision is in exactly one of Added, Removed,
// Changed, or counted in Unchanged; each list is in object.Compare order.
type Diff struct {
	Stack string `json:"stack"`
	From  Point  `json:"from"`
	To    Point  `json:"to"`
	// Added are in To only, Removed in From only, Changed in both but
	// different.
	Added     []ObjectDiff `json:"added"`
	Removed   []ObjectDiff `json:"removed"`
	Changed   []ObjectDiff `json:"changed"`
	Unchanged int          `json:"unchanged"`
}

// Compare diffs revision from against revision to. Load them with
// state.Store.SealedRevision: sealed Secret values compare equal exactly when
// their values do, and no plaintext is needed.
// sealed is the policy records are shown under: they are read sealed
// (state.Store.SealedRevision), so every value that was sensitive when it
// was stored (a Secret's content, a field its stack declared) reads as
// sealed, and the policy without rules masks it.
var sealed sensitive.Policy

func Compare(from, to *state.Revision) *Diff {
	d := &Diff{
		Stack:   to.Stack,
		From:    Point{Number: from.Number, ID: from.ID, Commit: from.Commit},
		To:      Point{Number: to.Number, ID: to.ID, Commit: to.Commit},
		Added:   []ObjectDiff{},
		Removed: []ObjectDiff{},
		Changed: []ObjectDiff{},
	}
	before := make(map[object.Ref]*unstructured.Unstructured, len(from.Objects))
	for _, u := range from.Objects {
		before[object.RefOf(u)] = u
	}
	seen := make(map[object.Ref]bool, len(to.Objects))
	for _, u := range to.Objects {
		ref := object.RefOf(u)
		seen[ref] = true
		old, ok := before[ref]
		if !ok {
			_, a, _ := ssa.ObjectDiff(sealed, nil, u)
			d.Added = append(d.Added, ObjectDiff{Ref: ref, After: a})
			continue
		}
		b, a, fields := ssa.ObjectDiff(sealed, old, u)
		if len(fields) == 0 {
			d.Unchanged++
			continue
		}
		d.Changed = append(d.Changed, ObjectDiff{Ref: ref, Fields: fields, Before: b, After: a})
	}
	for _, u := range from.Objects {
		if ref := object.RefOf(u); !seen[ref] {
			b, _, _ := ssa.ObjectDiff(sealed, u, nil)
			d.Removed = append(d.Removed, ObjectDiff{Ref: ref, Before: b})
		}
	}
	return d
}

// Empty reports whether the two revisions hold the same objects.
func (d *Diff) Empty() bool {
	return len(d.Added)+len(d.Removed)+len(d.Changed) == 0
}

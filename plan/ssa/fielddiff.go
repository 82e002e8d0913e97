package ssa

import (
	"fmt"
	"reflect"
	"slices"
	"sort"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/sensitive"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FieldDiffs lists the leaves that differ between before and after (either
// may be nil). Lists of maps that all have a name are matched by name, other
// lists compared whole. Fields at or around a hidden field
// (sensitive.IsPath) are reported as sensitive, without values.
func FieldDiffs(before, after *unstructured.Unstructured, hidden []sensitive.Field) []FieldDiff {
	var b, a map[string]any
	if before != nil {
		b = before.Object
	}
	if after != nil {
		a = after.Object
	}
	var out []FieldDiff
	walkDiff("", b, a, func(path string, x, y any) {
		if sensitive.IsPath(hidden, path) {
			out = append(out, FieldDiff{Path: path, Sensitive: true})
			return
		}
		out = append(out, FieldDiff{Path: path, Before: x, After: y})
	})
	return out
}

// Masked returns the field diff of two views of the object ref names
// (either may be nil) and the views with their sensitive values masked,
// both under p: what a plan or a comparison of revisions shows.
func Masked(p sensitive.Policy, ref object.Ref, before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured, []FieldDiff) {
	diffs := FieldDiffs(before, after, p.Both(ref, before, after))
	b, a := p.Mask(ref, before, after)
	return b, a, diffs
}

func walkDiff(path string, x, y any, emit func(string, any, any)) {
	xm, xIsMap := x.(map[string]any)
	ym, yIsMap := y.(map[string]any)
	if (xIsMap || x == nil) && (yIsMap || y == nil) && (xIsMap || yIsMap) {
		keys := map[string]bool{}
		for k := range xm {
			keys[k] = true
		}
		for k := range ym {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			walkDiff(joinPath(path, k), xm[k], ym[k], emit)
		}
		return
	}
	xl, xIsList := x.([]any)
	yl, yIsList := y.([]any)
	if xIsList && yIsList && namedList(xl) && namedList(yl) {
		names := map[string]bool{}
		var order []string
		index := func(l []any) map[string]any {
			m := map[string]any{}
			for _, e := range l {
				n := e.(map[string]any)["name"].(string)
				m[n] = e
				if !names[n] {
					names[n] = true
					order = append(order, n)
				}
			}
			return m
		}
		xi, yi := index(xl), index(yl)
		for _, n := range order {
			walkDiff(fmt.Sprintf("%s[name=%s]", path, n), xi[n], yi[n], emit)
		}
		return
	}
	if !reflect.DeepEqual(x, y) {
		emit(path, x, y)
	}
}

// namedList reports whether every element is a map with a string name.
func namedList(l []any) bool {
	if len(l) == 0 {
		return false
	}
	return !slices.ContainsFunc(l, func(e any) bool {
		m, ok := e.(map[string]any)
		if !ok {
			return true
		}
		_, ok = m["name"].(string)
		return !ok
	})
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// ObjectDiff compares two versions of one object (either may be nil) on all
// their fields but status and server bookkeeping, sensitive values masked
// under p, for comparing recorded revisions. It returns the two views,
// masked, and the changed fields.
func ObjectDiff(p sensitive.Policy, before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured, []FieldDiff) {
	var b, a *unstructured.Unstructured
	var ref object.Ref
	if before != nil {
		b, ref = StripServerFields(before), object.RefOf(before)
	}
	if after != nil {
		a, ref = StripServerFields(after), object.RefOf(after)
	}
	return Masked(p, ref, b, a)
}

// FieldDiff is one changed field.
type FieldDiff struct {
	// Path is the field, e.g. "spec.template.spec.containers[name=web].image".
	Path string `json:"path"`
	// Before is the old value; nil when the field is added or sensitive.
	Before any `json:"before,omitempty"`
	// After is the new value; nil when the field is removed or sensitive.
	After any `json:"after,omitempty"`
	// Sensitive marks a sensitive value: it changed, and it is not shown.
	Sensitive bool `json:"sensitive,omitempty"`
}

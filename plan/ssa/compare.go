package ssa

import (
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/gantryops/gantry/object"
)

// FieldManager is the field manager gantry applies as.
const FieldManager = "gantry"

// project returns the parts of v the set names, keeping their structure: a
// member without children is copied whole, a member with children (a map or
// list element that exists for its own sake) only through its children.
func project(v any, s *fieldpath.Set) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for _, pe := range children(s) {
			if pe.FieldName == nil {
				continue
			}
			if x, ok := t[*pe.FieldName]; ok {
				child, _ := s.Children.Get(pe)
				out[*pe.FieldName] = project(x, child)
			}
		}
		for _, pe := range members(s) {
			if pe.FieldName == nil {
				continue
			}
			if _, done := out[*pe.FieldName]; done {
				continue
			}
			if x, ok := t[*pe.FieldName]; ok {
				out[*pe.FieldName] = runtime.DeepCopyJSONValue(x)
			}
		}
		return out
	case []any:
		out := []any{}
		for i, e := range t {
			if child, ok := matchChild(s, e, i); ok {
				out = append(out, project(e, child))
			} else if matchMember(s, e, i) {
				out = append(out, runtime.DeepCopyJSONValue(e))
			}
		}
		return out
	}
	return runtime.DeepCopyJSONValue(v)
}

// children and members list a set's path elements. structured-merge-diff's
// All() iterators do not stop when a range loop breaks (the Go runtime then
// panics), so sets are walked with Iterate.
func children(s *fieldpath.Set) []fieldpath.PathElement {
	var out []fieldpath.PathElement
	s.Children.Iterate(func(pe fieldpath.PathElement) { out = append(out, pe) })
	return out
}

func members(s *fieldpath.Set) []fieldpath.PathElement {
	var out []fieldpath.PathElement
	s.Members.Iterate(func(pe fieldpath.PathElement) { out = append(out, pe) })
	return out
}

func matchChild(s *fieldpath.Set, elem any, index int) (*fieldpath.Set, bool) {
	for _, pe := range children(s) {
		if matches(pe, elem, index) {
			return s.Children.Get(pe)
		}
	}
	return nil, false
}

func matchMember(s *fieldpath.Set, elem any, index int) bool {
	for _, pe := range members(s) {
		if matches(pe, elem, index) {
			return true
		}
	}
	return false
}

// matches reports whether list element elem at index is the one pe selects.
func matches(pe fieldpath.PathElement, elem any, index int) bool {
	switch {
	case pe.Index != nil:
		return *pe.Index == index
	case pe.Value != nil:
		return value.Equals(value.NewValueInterface(elem), *pe.Value)
	case pe.Key != nil:
		m, ok := elem.(map[string]any)
		if !ok {
			return false
		}
		for _, f := range *pe.Key {
			x, ok := m[f.Name]
			if !ok || !value.Equals(value.NewValueInterface(x), f.Value) {
				return false
			}
		}
		return true
	}
	return false
}

// identity keeps the fields that say which object a projection is of.
func withIdentity(projected any, u *unstructured.Unstructured) *unstructured.Unstructured {
	m, _ := projected.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	out := &unstructured.Unstructured{Object: m}
	out.SetAPIVersion(u.GetAPIVersion())
	out.SetKind(u.GetKind())
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		m["metadata"] = md
	}
	md["name"] = u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		md["namespace"] = ns
	}
	return out
}

// Comparison is the outcome of comparing a live object with an apply result.
type Comparison struct {
	// Changed reports whether the apply changes anything it is responsible for.
	Changed bool
	// Before and After are live and the result projected on the fields
	// gantry owns in either.
	Before, After *unstructured.Unstructured
}

// Compare decides whether after (a dry-run or predicted apply result) differs
// from live in anything the apply is responsible for: the values at every
// path gantry owns before or after, and gantry's ownership itself. Fields of
// other managers, status and server bookkeeping are not the apply's doing.
func Compare(live, after *unstructured.Unstructured) (Comparison, error) {
	ownedLive, err := OwnedSet(live, FieldManager)
	if err != nil {
		return Comparison{}, err
	}
	ownedAfter, err := OwnedSet(after, FieldManager)
	if err != nil {
		return Comparison{}, err
	}
	union := ownedLive.Union(ownedAfter)
	before := withIdentity(project(live.Object, union), live)
	afterP := withIdentity(project(after.Object, union), after)
	changed := !reflect.DeepEqual(before.Object, afterP.Object) || !implied(ownedLive).Equals(implied(ownedAfter))
	return Comparison{Changed: changed, Before: before, After: afterP}, nil
}

// implied returns s without the members that also have children: a path
// with children exists anyway. Schemas differ in whether they record such
// members (a schema deduced from the object does, the server's usually not),
// and the difference must not read as a change of ownership.
func implied(s *fieldpath.Set) *fieldpath.Set {
	out := &fieldpath.Set{}
	for _, pe := range members(s) {
		if _, hasChildren := s.Children.Get(pe); !hasChildren {
			out.Insert(fieldpath.Path{pe})
		}
	}
	for _, pe := range children(s) {
		child, _ := s.Children.Get(pe)
		implied(child).Iterate(func(p fieldpath.Path) {
			out.Insert(append(fieldpath.Path{pe}, p...))
		})
	}
	return out
}

// OwnedView reduces u to the fields gantry owns in it, or, when it owns
// none (an object applied by someone else), to u without server bookkeeping.
func OwnedView(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	owned, err := OwnedSet(u, FieldManager)
	if err != nil {
		return nil, err
	}
	if owned.Empty() {
		return StripServerFields(u), nil
	}
	return withIdentity(project(u.Object, owned), u), nil
}

// serverMetadata are fields the server maintains, never set by an apply.
var serverMetadata = []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

// StripServerFields returns a copy of u without status and server metadata.
func StripServerFields(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	delete(c.Object, "status")
	if md, ok := c.Object["metadata"].(map[string]any); ok {
		for _, f := range serverMetadata {
			delete(md, f)
		}
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, object.LastApplied)
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return c
}

package sensitive

import (
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

// Redacted returns u, or, when it holds sensitive fields, a deep copy
// whose sensitive values read Value (keys kept, so changes stay visible
// per key). Every rendering of whole objects for people goes through it.
func (p Policy) Redacted(u *unstructured.Unstructured) *unstructured.Unstructured {
	fields := p.Fields(u)
	if len(fields) == 0 {
		return u
	}
	c := u.DeepCopy()
	for _, f := range fields {
		object.SetField(c.Object, f.Path, Value)
	}
	return c
}

// Mask returns the before and after views (either may be nil) of the
// object ref names with their sensitive fields replaced: every value reads
// Value, except values of after that differ from before, which read
// Changed. Keys stay, so a reader sees which ones change and nothing else.
// Views without sensitive fields are returned as they are.
func (p Policy) Mask(ref object.Ref, before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	mask := func(u *unstructured.Unstructured, value func(Field) any) *unstructured.Unstructured {
		if u == nil {
			return nil
		}
		fields := p.FieldsOf(ref, u.Object)
		if len(fields) == 0 {
			return u
		}
		c := u.DeepCopy()
		for _, f := range fields {
			object.SetField(c.Object, f.Path, value(f))
		}
		return c
	}
	mb := mask(before, func(Field) any { return Value })
	ma := mask(after, func(f Field) any {
		if before == nil {
			return Value // a new object: nothing to compare with
		}
		if old, ok := object.GetField(before.Object, f.Path); !ok || !reflect.DeepEqual(old, f.Value) {
			return Changed
		}
		return Value
	})
	return mb, ma
}

// Both returns the sensitive fields of two views of the object ref names
// (either may be nil), for a field diff to leave their values out.
func (p Policy) Both(ref object.Ref, before, after *unstructured.Unstructured) []Field {
	var out []Field
	for _, u := range []*unstructured.Unstructured{before, after} {
		if u != nil {
			out = append(out, p.FieldsOf(ref, u.Object)...)
		}
	}
	return out
}

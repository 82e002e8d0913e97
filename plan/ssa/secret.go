package ssa

import (
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

// SensitiveChanged marks a Secret value that changes (Terraform users know
// it as "(sensitive value)"); unchanged ones read object.SensitiveValue.
const SensitiveChanged = "(sensitive value changed)"

// MaskSecret replaces the sensitive fields (object.SecretFields) of a
// Secret's before and after views: every value reads
// object.SensitiveValue, except values of after that differ from before,
// which read SensitiveChanged. Keys stay, so a reader sees which ones
// change and nothing else. For other objects it returns its arguments.
func MaskSecret(secret bool, before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	if !secret {
		return before, after
	}
	mask := func(u *unstructured.Unstructured, value func(object.SensitiveField) any) *unstructured.Unstructured {
		if u == nil {
			return nil
		}
		c := u.DeepCopy()
		for _, f := range object.SecretFields(u.Object) {
			object.SetField(c.Object, f.Path, value(f))
		}
		return c
	}
	hidden := func(object.SensitiveField) any { return object.SensitiveValue }
	mb := mask(before, hidden)
	ma := mask(after, func(f object.SensitiveField) any {
		if before == nil {
			return object.SensitiveValue // a new Secret: nothing to compare with
		}
		if old, ok := object.GetField(before.Object, f.Path); !ok || !reflect.DeepEqual(old, f.Value) {
			return SensitiveChanged
		}
		return object.SensitiveValue
	})
	return mb, ma
}

// sensitiveFieldsOf returns the sensitive fields of a Secret's two views
// (either may be nil), for field diffs to leave their values out.
func sensitiveFieldsOf(before, after map[string]any) []object.SensitiveField {
	return append(object.SecretFields(before), object.SecretFields(after)...)
}

package ssa

import (
	"bytes"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/gantryops/gantry/object"
)

// OwnedSet returns the fields the manager's apply entries own in u.
func OwnedSet(u *unstructured.Unstructured, manager string) (*fieldpath.Set, error) {
	entries, err := ManagedFields(u)
	if err != nil {
		return nil, err
	}
	out := &fieldpath.Set{}
	for _, e := range entries {
		if e.Manager != manager || e.Operation != metav1.ManagedFieldsOperationApply || e.Subresource != "" || e.FieldsV1 == nil {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(e.FieldsV1.GetRawBytes())); err != nil {
			return nil, fmt.Errorf("managed fields of %s: %w", object.RefOf(u), err)
		}
		out = out.Union(s)
	}
	if object.RefOf(u).IsSecret() {
		out = stringDataAsData(out)
	}
	return out, nil
}

var (
	stringDataField = "stringData"
	dataField       = "data"
)

// ManagedFields returns u's managed-field entries. Unlike
// Unstructured.GetManagedFields, which returns none at all when one entry
// does not decode, it is an error naming the object and the entry: read as
// "no entries", such an object would look owned by nobody, and its plan
// would be wrong without a word.
func ManagedFields(u *unstructured.Unstructured) ([]metav1.ManagedFieldsEntry, error) {
	items, err := object.ListField(u.Object, "metadata", "managedFields")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", object.RefOf(u), err)
	}
	out := make([]metav1.ManagedFieldsEntry, 0, len(items))
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: metadata.managedFields[%d] must be a mapping, found %s", object.RefOf(u), i, object.Describe(item))
		}
		var e metav1.ManagedFieldsEntry
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &e); err != nil {
			return nil, fmt.Errorf("%s: metadata.managedFields[%d] is not a managed-fields entry: %w", object.RefOf(u), i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// stringDataAsData rewrites ownership of a Secret's stringData keys as
// ownership of the same data keys. stringData is write-only: the server
// merges it into data and stores no stringData, yet records the applier as
// owning stringData.k. What the apply really sets is data.k.
func stringDataAsData(s *fieldpath.Set) *fieldpath.Set {
	sd := fieldpath.PathElement{FieldName: &stringDataField}
	if _, ok := s.Children.Get(sd); !ok {
		return s
	}
	out := &fieldpath.Set{}
	s.Iterate(func(p fieldpath.Path) {
		if len(p) > 0 && p[0].Equals(sd) {
			p = append(fieldpath.Path{{FieldName: &dataField}}, p[1:]...)
		}
		out.Insert(p)
	})
	return out
}

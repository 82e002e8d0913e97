package object

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CRDKind is the group and kind a CustomResourceDefinition defines; ok is
// false for any other object, or one whose group or kind is not a string
// (the planner refuses those).
func CRDKind(u *unstructured.Unstructured) (schema.GroupKind, bool) {
	if u.GroupVersionKind().GroupKind() != (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) {
		return schema.GroupKind{}, false
	}
	group, err := StringField(u.Object, "spec", "group")
	if err != nil {
		return schema.GroupKind{}, false
	}
	kind, err := StringField(u.Object, "spec", "names", "kind")
	return schema.GroupKind{Group: group, Kind: kind}, err == nil && kind != ""
}

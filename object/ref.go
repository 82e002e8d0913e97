package object

import (
	"cmp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Ref identifies a Kubernetes object independently of its API version, so that
// the same object rendered as apps/v1 today and apps/v2 tomorrow keeps one
// identity. Ref is comparable and is the map key for objects across gantry.
type Ref struct {
	// Group is the API group; empty for the core group.
	Group string `json:"group"`
	// Kind is the object's kind, e.g. "Deployment".
	Kind string `json:"kind"`
	// Namespace is empty for cluster-scoped objects, and for namespaced objects
	// whose namespace is still to be defaulted from the stack's target.
	Namespace string `json:"namespace,omitempty"`
	// Name is metadata.name; never empty for a valid object. A hook named
	// by the server (metadata.generateName) has its prefix followed by
	// GeneratedMark: a name no object can have, so that it never meets a
	// named object's ref.
	Name string `json:"name"`
}

// GeneratedMark ends the Name of a Ref whose object the server names.
const GeneratedMark = "*"

// Generated returns the generateName prefix of a ref the server names, and
// whether it is one.
func (r Ref) Generated() (prefix string, ok bool) {
	return strings.CutSuffix(r.Name, GeneratedMark)
}

// RefOf returns the Ref of u; for an object without a name but with
// metadata.generateName, a ref that says so (Generated).
func RefOf(u *unstructured.Unstructured) Ref {
	gvk := u.GroupVersionKind()
	name := u.GetName()
	if name == "" && u.GetGenerateName() != "" {
		name = u.GetGenerateName() + GeneratedMark
	}
	return Ref{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: name}
}

// GroupKind returns the Ref's group and kind.
func (r Ref) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: r.Group, Kind: r.Kind}
}

// String formats r the way kubectl names objects: "Kind.group/namespace/name",
// leaving out the group for the core group and the namespace when empty,
// e.g. "Deployment.apps/podinfo/frontend" or "Namespace/podinfo".
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString(r.Kind)
	if r.Group != "" {
		b.WriteByte('.')
		b.WriteString(r.Group)
	}
	if r.Namespace != "" {
		b.WriteByte('/')
		b.WriteString(r.Namespace)
	}
	b.WriteByte('/')
	b.WriteString(r.Name)
	return b.String()
}

// Compare orders refs by group, kind, namespace and name; it is the stable
// order in which gantry lists, hashes and stores objects.
func Compare(a, b Ref) int {
	return cmp.Or(
		cmp.Compare(a.Group, b.Group),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Namespace, b.Namespace),
		cmp.Compare(a.Name, b.Name),
	)
}

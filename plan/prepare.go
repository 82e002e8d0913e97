package plan

import (
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/object"
)

// Labels and annotations gantry reads and writes on objects.
const (
	// StackLabel names the stack that applied an object; prune deletes only
	// objects that still carry this stack's value.
	StackLabel = "gantry.dev/stack"
	// PruneAnnotation set to "disabled" protects an object from prune.
	PruneAnnotation = "gantry.dev/prune"
)

// desiredObject is a rendered object made ready to apply.
type desiredObject struct {
	obj *unstructured.Unstructured
	ref ObjectRef
	res object.Resource
	// pending says why the server cannot check the object yet (its CRD or
	// Namespace is created by this plan); empty otherwise.
	pending string
}

var crdKind = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}

// definedKind is a kind a CustomResourceDefinition in the revision defines.
type definedKind struct {
	crd        ObjectRef
	plural     string
	namespaced bool
	versions   []string
}

// prepare maps every rendered object to its resource, defaults namespaces,
// labels it with the stack, and sorts by ref. Problems with any object are
// returned together.
func (r *run) prepare() ([]*desiredObject, error) {
	defined := map[schema.GroupKind]definedKind{}
	for _, u := range r.in.Objects {
		if u.GroupVersionKind().GroupKind() != crdKind {
			continue
		}
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
		scope, _, _ := unstructured.NestedString(u.Object, "spec", "scope")
		versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
		dk := definedKind{crd: object.RefOf(u), plural: plural, namespaced: scope == "Namespaced"}
		for _, v := range versions {
			if name, ok := v.(map[string]any)["name"].(string); ok {
				dk.versions = append(dk.versions, name)
			}
		}
		defined[schema.GroupKind{Group: group, Kind: kind}] = dk
	}

	var errs []error
	out := make([]*desiredObject, 0, len(r.in.Objects))
	for _, u := range r.in.Objects {
		d := &desiredObject{obj: u.DeepCopy()}
		gvk := u.GroupVersionKind()
		res, err := r.cluster.Resource(gvk)
		switch {
		case err == nil:
			d.res = res
		case meta.IsNoMatchError(err):
			dk, ok := defined[gvk.GroupKind()]
			if !ok || !slices.Contains(dk.versions, gvk.Version) {
				errs = append(errs, fmt.Errorf("%s: the cluster does not serve %s (apiVersion %s): install its CustomResourceDefinition first, or add it to this stack", object.RefOf(u), gvk.Kind, gvk.GroupVersion()))
				continue
			}
			d.res = object.Resource{GVR: gvk.GroupVersion().WithResource(dk.plural), Namespaced: dk.namespaced}
			d.pending = fmt.Sprintf("its CustomResourceDefinition %s is created by this plan", dk.crd.Name)
		default:
			errs = append(errs, fmt.Errorf("%s: %w", object.RefOf(u), err))
			continue
		}
		if d.res.Namespaced && d.obj.GetNamespace() == "" {
			if r.in.Options.Namespace == "" {
				errs = append(errs, fmt.Errorf("%s: namespaced, but names no namespace and the stack has no target namespace: set metadata.namespace or target.namespace", object.RefOf(u)))
				continue
			}
			d.obj.SetNamespace(r.in.Options.Namespace)
		}
		if !d.res.Namespaced && d.obj.GetNamespace() != "" {
			errs = append(errs, fmt.Errorf("%s: %s is cluster-scoped, but names namespace %q: remove metadata.namespace", object.RefOf(u), gvk.Kind, d.obj.GetNamespace()))
			continue
		}
		labels := d.obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[StackLabel] = r.in.Stack
		d.obj.SetLabels(labels)
		d.ref = object.RefOf(d.obj)
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *desiredObject) int { return object.Compare(a.ref, b.ref) })
	for i := 1; i < len(out); i++ {
		if out[i].ref == out[i-1].ref {
			errs = append(errs, fmt.Errorf("%s is rendered twice (after defaulting namespaces to %q): each object may appear once", out[i].ref, r.in.Options.Namespace))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// checkEmpty refuses an empty revision that would prune a non-empty
// inventory, unless the stack allows it.
func (r *run) checkEmpty() error {
	if len(r.desired) > 0 || len(r.in.Inventory) == 0 || r.in.Options.AllowEmpty || !r.in.Options.Prune {
		return nil
	}
	return fmt.Errorf("the revision renders no objects, and planning it would delete all %d objects of stack %s: if that is intended, set allowEmpty: true for the stack; otherwise check source.path", len(r.in.Inventory), r.in.Stack)
}

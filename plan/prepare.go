package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"

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
	// hook is what the object's Helm hook annotations say; nil for an
	// object that is not a hook.
	hook *HookSpec
	// withheld: the object may hold sensitive content (a Secret, or a kind
	// the stack declares sensitive fields of), so the server's messages
	// about it are withheld.
	withheld bool
}

var crdKind = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}

// definedKind is a kind a CustomResourceDefinition in the revision defines.
type definedKind struct {
	crd        ObjectRef
	plural     string
	namespaced bool
	// served are the versions the CRD serves (served: true); only these can
	// be applied once it is.
	served []string
}

// prepare maps every rendered object to its resource, defaults namespaces,
// labels it with the stack, and sorts by ref. Problems with any object are
// returned together. Objects reach the planner from renders, from the
// record and from planfiles: each is validated again, so that no content of
// the wrong type is read silently wrong (or panics) further on.
func (r *run) prepare() ([]*desiredObject, error) {
	var errs []error
	valid := make([]*unstructured.Unstructured, 0, len(r.in.Objects))
	for i, u := range r.in.Objects {
		if err := object.Validate(u); err != nil {
			errs = append(errs, fmt.Errorf("object %d of the revision (%s): %w", i+1, object.RefOf(u), err))
			continue
		}
		valid = append(valid, u)
	}
	defined, err := definedKinds(valid)
	if err != nil {
		errs = append(errs, err)
	}
	out := make([]*desiredObject, 0, len(valid))
	for _, u := range valid {
		d, err := r.prepareOne(u, defined)
		if err != nil {
			errs = append(errs, err)
			continue
		}
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

// prepareOne maps u to its resource (or to the kind a CRD of the revision
// defines), defaults its namespace and labels it with the stack.
func (r *run) prepareOne(u *unstructured.Unstructured, defined map[schema.GroupKind]definedKind) (*desiredObject, error) {
	d := &desiredObject{obj: u.DeepCopy()}
	gvk := u.GroupVersionKind()
	dk, ok := defined[gvk.GroupKind()]
	if ok && !slices.Contains(dk.served, gvk.Version) {
		// Whatever the cluster serves now, it serves what this CRD says
		// once the plan's CRD phase is applied.
		return nil, fmt.Errorf("%s: its CustomResourceDefinition %s in this revision does not serve version %s (it is not listed, or served: false; it serves %s): use a version it serves, or serve this one",
			object.RefOf(u), dk.crd.Name, gvk.Version, servedList(dk.served))
	}
	res, err := r.cluster.Resource(gvk)
	switch {
	case err == nil:
		d.res = res
	case meta.IsNoMatchError(err):
		if !ok {
			return nil, fmt.Errorf("%s: the cluster does not serve %s (apiVersion %s): install its CustomResourceDefinition first, or add it to this stack", object.RefOf(u), gvk.Kind, gvk.GroupVersion())
		}
		d.res = object.Resource{GVR: gvk.GroupVersion().WithResource(dk.plural), Namespaced: dk.namespaced}
		d.pending = fmt.Sprintf("its CustomResourceDefinition %s is created by this plan", dk.crd.Name)
	default:
		return nil, fmt.Errorf("%s: %w", object.RefOf(u), err)
	}
	if d.res.Namespaced && d.obj.GetNamespace() == "" {
		if r.in.Options.Namespace == "" {
			return nil, fmt.Errorf("%s: namespaced, but names no namespace and the stack has no target namespace: set metadata.namespace or target.namespace", object.RefOf(u))
		}
		d.obj.SetNamespace(r.in.Options.Namespace)
	}
	if !d.res.Namespaced && d.obj.GetNamespace() != "" {
		return nil, fmt.Errorf("%s: %s is cluster-scoped, but names namespace %q: remove metadata.namespace", object.RefOf(u), gvk.Kind, d.obj.GetNamespace())
	}
	labels := d.obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[StackLabel] = r.in.Stack
	d.obj.SetLabels(labels)
	d.ref = object.RefOf(d.obj)
	if spec, ok, err := HookSpecOf(d.obj); ok {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.ref, err)
		}
		d.hook = &spec
	}
	d.withheld = r.policy.Covers(d.ref)
	if !d.ref.IsSecret() { // a Secret's values are refused by the store, unsealable
		if err := r.policy.CheckStrings(d.ref, d.obj.Object); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// definedKinds returns the kinds the CustomResourceDefinitions among objs
// define. A CRD whose fields do not have the types the API server requires
// is an error naming it and the field: the server would refuse it too.
func definedKinds(objs []*unstructured.Unstructured) (map[schema.GroupKind]definedKind, error) {
	defined := map[schema.GroupKind]definedKind{}
	var errs []error
	for _, u := range objs {
		if u.GroupVersionKind().GroupKind() != crdKind {
			continue
		}
		gk, dk, err := definedKindOf(u)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w: the API server refuses such a CustomResourceDefinition too", object.RefOf(u), err))
			continue
		}
		defined[gk] = dk
	}
	return defined, errors.Join(errs...)
}

// servedList is versions for a message: "v1, v2", or "no version".
func servedList(versions []string) string {
	if len(versions) == 0 {
		return "no version"
	}
	return strings.Join(versions, ", ")
}

// definedKindOf reads the group, kind, plural, scope and served versions a
// CRD defines, checking the type of every field it reads.
func definedKindOf(u *unstructured.Unstructured) (schema.GroupKind, definedKind, error) {
	var strs [4]string
	for i, path := range [][]string{{"spec", "group"}, {"spec", "names", "kind"}, {"spec", "names", "plural"}, {"spec", "scope"}} {
		var err error
		if strs[i], err = object.StringField(u.Object, path...); err != nil {
			return schema.GroupKind{}, definedKind{}, err
		}
	}
	versions, err := object.ListField(u.Object, "spec", "versions")
	if err != nil {
		return schema.GroupKind{}, definedKind{}, err
	}
	dk := definedKind{crd: object.RefOf(u), plural: strs[2], namespaced: strs[3] == "Namespaced"}
	for i, v := range versions {
		m, ok := v.(map[string]any)
		if !ok {
			return schema.GroupKind{}, definedKind{}, fmt.Errorf("spec.versions[%d] must be a mapping with a name (e.g. {name: v1, served: true, storage: true}), found %s", i, object.Describe(v))
		}
		name, err := object.StringField(m, "name")
		if err != nil {
			return schema.GroupKind{}, definedKind{}, fmt.Errorf("spec.versions[%d].%w", i, err)
		}
		served, ok := m["served"].(bool)
		if _, present := m["served"]; present && !ok {
			return schema.GroupKind{}, definedKind{}, fmt.Errorf("spec.versions[%d].served must be true or false, found %s", i, object.Describe(m["served"]))
		}
		if served {
			dk.served = append(dk.served, name)
		}
	}
	return schema.GroupKind{Group: strs[0], Kind: strs[1]}, dk, nil
}

// checkEmpty refuses an empty revision that would prune a non-empty
// inventory, unless the stack allows it.
func (r *run) checkEmpty() error {
	if len(r.desired) > 0 || len(r.in.Inventory) == 0 || r.in.Options.AllowEmpty || !r.in.Options.Prune {
		return nil
	}
	return fmt.Errorf("the revision renders no objects, and planning it would delete all %d objects of stack %s: if that is intended, set allowEmpty: true for the stack; otherwise check source.path", len(r.in.Inventory), r.in.Stack)
}

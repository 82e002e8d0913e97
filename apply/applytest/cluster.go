// Package applytest is gantry's apply.Cluster (and plan.Cluster) held in
// memory, for unit tests of the applier and the engine: gantry's own
// interface, not a stand-in for the Kubernetes API. Integration tests use
// the real control plane.
package applytest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/object"
)

// RefuseAnnotation makes Cluster refuse an object, as a server refuses
// an invalid one, in a dry-run as in an apply.
const RefuseAnnotation = "test.gantry.dev/refuse"

// ForbidDeleteAnnotation makes Cluster refuse to delete an object.
const ForbidDeleteAnnotation = "test.gantry.dev/forbid-delete"

// Cluster is gantry's apply.Cluster held in memory, with the rules of an
// API server the phase logic depends on: a namespaced object needs its
// Namespace, a custom resource needs its CRD (which is established at
// once), and an object annotated RefuseAnnotation is invalid. It records
// every write, in order, and counts dry-runs.
type Cluster struct {
	mu        sync.Mutex
	objs      map[object.Ref]*unstructured.Unstructured
	writes    []string
	dryRuns   int
	stats     kube.Stats
	version   int
	generated int // names given from generateName
}

// Writes are the writes made, in order ("apply REF", "create REF",
// "delete REF").
func (c *Cluster) Writes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

// DryRuns counts the dry-runs.
func (c *Cluster) DryRuns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dryRuns
}

// Object returns the stored object ref, or nil.
func (c *Cluster) Object(ref object.Ref) *unstructured.Unstructured {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u := c.objs[ref]; u != nil {
		return u.DeepCopy()
	}
	return nil
}

// Put stores u as another manager would (kubectl edit): what it had of
// gantry's ownership stays.
func (c *Cluster) Put(u *unstructured.Unstructured) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ref := object.RefOf(u)
	u = u.DeepCopy()
	if old := c.objs[ref]; old != nil {
		u.SetManagedFields(old.GetManagedFields())
		u.SetUID(old.GetUID())
	}
	c.version++
	u.SetResourceVersion(strconv.Itoa(c.version))
	c.objs[ref] = established(u)
}

// Host names the cluster.
func (c *Cluster) Host() string { return "memory" }

// Stats counts the requests made.
func (c *Cluster) Stats() kube.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// stored is obj as the server stores an apply of it by gantry: gantry's
// managed-fields entry owns every field obj sets, with the identity of the
// live object it replaces (or a new one).
func (c *Cluster) stored(obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	u := obj.DeepCopy()
	set := fieldpath.SetFromValue(value.NewValueInterface(obj.Object))
	fields, err := set.ToJSON()
	if err != nil {
		return nil, err
	}
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "gantry", Operation: metav1.ManagedFieldsOperationApply,
		APIVersion: obj.GetAPIVersion(), FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(string(fields))}})
	if live := c.objs[object.RefOf(obj)]; live != nil {
		u.SetUID(live.GetUID())
		u.SetResourceVersion(live.GetResourceVersion())
	} else {
		u.SetUID(types.UID(fmt.Sprintf("uid-%d", c.version+1)))
	}
	return established(u), nil
}

var builtIn = map[schema.GroupKind]object.Resource{
	{Kind: "Namespace"}:           {GVR: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}},
	{Kind: "ConfigMap"}:           {GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Namespaced: true},
	{Group: "batch", Kind: "Job"}: {GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, Namespaced: true},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: {GVR: schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:         {GVR: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}},
}

func New(live ...*unstructured.Unstructured) *Cluster {
	c := &Cluster{objs: map[object.Ref]*unstructured.Unstructured{}}
	for _, u := range live {
		c.objs[object.RefOf(u)] = established(u)
	}
	return c
}

// established is u, with the status an API server gives a CRD it serves.
func established(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	if _, ok := object.CRDKind(u); ok {
		u.Object["status"] = map[string]any{"conditions": []any{
			map[string]any{"type": "NamesAccepted", "status": "True"},
			map[string]any{"type": "Established", "status": "True"},
		}}
	}
	return u
}

func (c *Cluster) Resource(gvk schema.GroupVersionKind) (object.Resource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resource(gvk)
}

// resource maps gvk: a built-in kind, or one a stored CRD defines.
func (c *Cluster) resource(gvk schema.GroupVersionKind) (object.Resource, error) {
	if r, ok := builtIn[gvk.GroupKind()]; ok {
		return r, nil
	}
	for _, u := range c.objs {
		if gk, ok := object.CRDKind(u); ok && gk == gvk.GroupKind() {
			plural, _ := object.StringField(u.Object, "spec", "names", "plural")
			return object.Resource{GVR: gvk.GroupVersion().WithResource(plural), Namespaced: true}, nil
		}
	}
	return object.Resource{}, &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
}

func (c *Cluster) List(_ context.Context, r object.Resource, namespace string) ([]*unstructured.Unstructured, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Total++
	c.stats.Lists++
	var out []*unstructured.Unstructured
	for ref, u := range c.objs {
		if res, err := c.resource(u.GroupVersionKind()); err == nil && res.GVR == r.GVR && (namespace == "" || ref.Namespace == namespace) {
			out = append(out, u.DeepCopy())
		}
	}
	return out, nil
}

// admit is what the server checks of obj, in a dry-run as in an apply.
func (c *Cluster) admit(obj *unstructured.Unstructured) error {
	ref := object.RefOf(obj)
	res, err := c.resource(obj.GroupVersionKind())
	if err != nil {
		return err
	}
	if res.Namespaced {
		if _, ok := c.objs[object.Ref{Kind: "Namespace", Name: ref.Namespace}]; !ok {
			return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ref.Namespace)
		}
	}
	if _, ok := obj.GetAnnotations()[RefuseAnnotation]; ok {
		return apierrors.NewInvalid(ref.GroupKind(), ref.Name, nil)
	}
	return nil
}

func (c *Cluster) DryRunApply(_ context.Context, _ object.Resource, obj *unstructured.Unstructured, _ bool) (*unstructured.Unstructured, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dryRuns++
	c.stats.Total++
	c.stats.DryRuns++
	if err := c.admit(obj); err != nil {
		return nil, err
	}
	return c.stored(obj)
}

func (c *Cluster) PredictApply(context.Context, *unstructured.Unstructured, *unstructured.Unstructured, bool) (*unstructured.Unstructured, error) {
	return nil, errors.New("Cluster does not predict")
}

func (c *Cluster) Apply(ctx context.Context, _ object.Resource, obj *unstructured.Unstructured, _ bool) (*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // as client-go: a request of an ended context is not sent
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.write("apply", obj, false)
}

// Create creates obj, as a server does: named from its generateName
// (prefix and a counter) when it has no name; an object of its name
// already there is a conflict.
func (c *Cluster) Create(ctx context.Context, _ object.Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	obj = obj.DeepCopy()
	if obj.GetName() == "" {
		c.generated++
		obj.SetName(fmt.Sprintf("%s%05d", obj.GetGenerateName(), c.generated))
	}
	return c.write("create", obj, true)
}

// write stores obj as verb (apply or create: fresh, an object of its name
// already there is a conflict), admitted as a server admits it.
func (c *Cluster) write(verb string, obj *unstructured.Unstructured, fresh bool) (*unstructured.Unstructured, error) {
	ref := object.RefOf(obj)
	c.writes = append(c.writes, verb+" "+ref.String())
	c.stats.Total++
	c.stats.Writes++
	if _, ok := c.objs[ref]; ok && fresh {
		return nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: ref.Kind}, ref.Name)
	}
	if err := c.admit(obj); err != nil {
		return nil, err
	}
	u, err := c.stored(obj)
	if err != nil {
		return nil, err
	}
	c.version++
	u.SetResourceVersion(strconv.Itoa(c.version))
	c.objs[ref] = u
	return u.DeepCopy(), nil
}

// Delete deletes ref, as a server does: refused (403) for an object
// annotated ForbidDeleteAnnotation (RBAC, an admission webhook); marked
// for deletion and kept while it has finalizers.
func (c *Cluster) Delete(ctx context.Context, _ object.Resource, ref object.Ref, _ metav1.DeletionPropagation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, "delete "+ref.String())
	c.stats.Total++
	c.stats.Writes++
	u, ok := c.objs[ref]
	switch {
	case !ok:
	case u.GetAnnotations()[ForbidDeleteAnnotation] != "":
		return apierrors.NewForbidden(schema.GroupResource{Group: ref.Group, Resource: ref.Kind}, ref.Name, errors.New("deletes are not allowed"))
	case len(u.GetFinalizers()) > 0:
		now := metav1.Now()
		u.SetDeletionTimestamp(&now)
		return nil
	}
	delete(c.objs, ref)
	return nil
}

func (c *Cluster) Get(_ context.Context, _ object.Resource, ref object.Ref) (*unstructured.Unstructured, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Total++
	c.stats.Other++
	u, ok := c.objs[ref]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: fmt.Sprintf("%s.%s", ref.Kind, ref.Group)}, ref.Name)
	}
	return u.DeepCopy(), nil
}

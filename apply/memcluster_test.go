package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/object"
)

// refuseAnnotation makes memCluster refuse an object, as a server refuses
// an invalid one, in a dry-run as in an apply.
const refuseAnnotation = "test.gantry.dev/refuse"

// forbidDeleteAnnotation makes memCluster refuse to delete an object.
const forbidDeleteAnnotation = "test.gantry.dev/forbid-delete"

// memCluster is gantry's apply.Cluster held in memory, with the rules of an
// API server the phase logic depends on: a namespaced object needs its
// Namespace, a custom resource needs its CRD (which is established at
// once), and an object annotated refuseAnnotation is invalid. It records
// every write, in order, and counts dry-runs.
type memCluster struct {
	mu      sync.Mutex
	objs    map[object.Ref]*unstructured.Unstructured
	writes  []string
	dryRuns int
}

var memBuiltIn = map[schema.GroupKind]object.Resource{
	{Kind: "Namespace"}: {GVR: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}},
	{Kind: "ConfigMap"}: {GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Namespaced: true},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: {GVR: schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:         {GVR: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}},
}

func newMemCluster(live ...*unstructured.Unstructured) *memCluster {
	c := &memCluster{objs: map[object.Ref]*unstructured.Unstructured{}}
	for _, u := range live {
		c.objs[object.RefOf(u)] = established(u)
	}
	return c
}

// established is u, with the status an API server gives a CRD it serves.
func established(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	if _, ok := crdKind(u); ok {
		u.Object["status"] = map[string]any{"conditions": []any{
			map[string]any{"type": "NamesAccepted", "status": "True"},
			map[string]any{"type": "Established", "status": "True"},
		}}
	}
	return u
}

func (c *memCluster) Resource(gvk schema.GroupVersionKind) (object.Resource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resource(gvk)
}

// resource maps gvk: a built-in kind, or one a stored CRD defines.
func (c *memCluster) resource(gvk schema.GroupVersionKind) (object.Resource, error) {
	if r, ok := memBuiltIn[gvk.GroupKind()]; ok {
		return r, nil
	}
	for _, u := range c.objs {
		if gk, ok := crdKind(u); ok && gk == gvk.GroupKind() {
			plural, _ := object.StringField(u.Object, "spec", "names", "plural")
			return object.Resource{GVR: gvk.GroupVersion().WithResource(plural), Namespaced: true}, nil
		}
	}
	return object.Resource{}, &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
}

func (c *memCluster) List(_ context.Context, r object.Resource, namespace string) ([]*unstructured.Unstructured, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*unstructured.Unstructured
	for ref, u := range c.objs {
		if res, err := c.resource(u.GroupVersionKind()); err == nil && res.GVR == r.GVR && (namespace == "" || ref.Namespace == namespace) {
			out = append(out, u.DeepCopy())
		}
	}
	return out, nil
}

// admit is what the server checks of obj, in a dry-run as in an apply.
func (c *memCluster) admit(obj *unstructured.Unstructured) error {
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
	if _, ok := obj.GetAnnotations()[refuseAnnotation]; ok {
		return apierrors.NewInvalid(ref.GroupKind(), ref.Name, nil)
	}
	return nil
}

func (c *memCluster) DryRunApply(_ context.Context, _ object.Resource, obj *unstructured.Unstructured, _ bool) (*unstructured.Unstructured, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dryRuns++
	if err := c.admit(obj); err != nil {
		return nil, err
	}
	return obj.DeepCopy(), nil
}

func (c *memCluster) PredictApply(context.Context, *unstructured.Unstructured, *unstructured.Unstructured, bool) (*unstructured.Unstructured, error) {
	return nil, errors.New("memCluster does not predict")
}

func (c *memCluster) Apply(ctx context.Context, _ object.Resource, obj *unstructured.Unstructured, _ bool) (*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // as client-go: a request of an ended context is not sent
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ref := object.RefOf(obj)
	c.writes = append(c.writes, "apply "+ref.String())
	if err := c.admit(obj); err != nil {
		return nil, err
	}
	c.objs[ref] = established(obj)
	return c.objs[ref].DeepCopy(), nil
}

// Delete deletes ref, as a server does: refused (403) for an object
// annotated forbidDeleteAnnotation (RBAC, an admission webhook); marked
// for deletion and kept while it has finalizers.
func (c *memCluster) Delete(ctx context.Context, _ object.Resource, ref object.Ref, _ metav1.DeletionPropagation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, "delete "+ref.String())
	u, ok := c.objs[ref]
	switch {
	case !ok:
	case u.GetAnnotations()[forbidDeleteAnnotation] != "":
		return apierrors.NewForbidden(schema.GroupResource{Group: ref.Group, Resource: ref.Kind}, ref.Name, errors.New("deletes are not allowed"))
	case len(u.GetFinalizers()) > 0:
		now := metav1.Now()
		u.SetDeletionTimestamp(&now)
		return nil
	}
	delete(c.objs, ref)
	return nil
}

func (c *memCluster) Get(_ context.Context, _ object.Resource, ref object.Ref) (*unstructured.Unstructured, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.objs[ref]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: fmt.Sprintf("%s.%s", ref.Kind, ref.Group)}, ref.Name)
	}
	return u.DeepCopy(), nil
}

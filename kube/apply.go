package kube

import (
	"context"
	"encoding/json"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/gantryops/gantry/object"
)

// DryRunApply sends obj as a server-side apply by FieldManager with
// dryRun=All and returns what the server would store: defaulting, admission
// and conversion included, nothing persisted. Errors are the server's
// (*apierrors.StatusError), so callers can tell conflicts and invalid or
// immutable fields apart.
func (c *Cluster) DryRunApply(ctx context.Context, r object.Resource, obj *unstructured.Unstructured, force bool) (*unstructured.Unstructured, error) {
	return c.apply(ctx, r, obj, force, []string{metav1.DryRunAll})
}

// Apply server-side applies obj as FieldManager (forcing conflicts when
// force is set) and returns the object as stored.
func (c *Cluster) Apply(ctx context.Context, r object.Resource, obj *unstructured.Unstructured, force bool) (*unstructured.Unstructured, error) {
	return c.apply(ctx, r, obj, force, nil)
}

// Create creates obj as FieldManager and returns it as stored: for hooks
// named by metadata.generateName, which server-side apply cannot create
// (it needs a name).
func (c *Cluster) Create(ctx context.Context, r object.Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return c.resource(r, obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager})
}

// Delete deletes the object ref of resource r with the given propagation.
// A missing object is not an error.
func (c *Cluster) Delete(ctx context.Context, r object.Resource, ref object.Ref, propagation metav1.DeletionPropagation) error {
	err := c.resource(r, ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &propagation})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Get returns the live object ref of resource r; NotFound errors are the
// server's (apierrors.IsNotFound).
func (c *Cluster) Get(ctx context.Context, r object.Resource, ref object.Ref) (*unstructured.Unstructured, error) {
	return c.resource(r, ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
}

func (c *Cluster) resource(r object.Resource, namespace string) dynamic.ResourceInterface {
	if r.Namespaced {
		return c.dynamic.Resource(r.GVR).Namespace(namespace)
	}
	return c.dynamic.Resource(r.GVR)
}

func (c *Cluster) apply(ctx context.Context, r object.Resource, obj *unstructured.Unstructured, force bool, dryRun []string) (*unstructured.Unstructured, error) {
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force, DryRun: dryRun}
	return c.resource(r, obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
}

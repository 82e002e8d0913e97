package kube

import (
	"context"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

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

func (c *Cluster) apply(ctx context.Context, r object.Resource, obj *unstructured.Unstructured, force bool, dryRun []string) (*unstructured.Unstructured, error) {
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	ri := c.dynamic.Resource(r.GVR)
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force, DryRun: dryRun}
	if r.Namespaced {
		return ri.Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
	}
	return ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
}

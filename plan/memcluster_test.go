package plan

import (
	"context"
	"encoding/json"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/ssa"
)

// memCluster is gantry's plan.Cluster held in memory, for planning objects
// of any shape where no API server would return them (fuzzing): it serves
// a few built-in kinds, lists the live objects it holds as they are (shared,
// as kube.Cache does), and answers a dry-run or a prediction with the
// desired object, owned by gantry, over the live object's other managed
// fields, passed on whatever their shape.
type memCluster struct {
	live []*unstructured.Unstructured
}

var memResources = map[schema.GroupKind]object.Resource{
	{Kind: "ConfigMap"}:                 {GVR: schema.GroupVersionResource{Resource: "configmaps"}, Namespaced: true},
	{Kind: "Secret"}:                    {GVR: schema.GroupVersionResource{Resource: "secrets"}, Namespaced: true},
	{Kind: "Pod"}:                       {GVR: schema.GroupVersionResource{Resource: "pods"}, Namespaced: true},
	{Kind: "Namespace"}:                 {GVR: schema.GroupVersionResource{Resource: "namespaces"}},
	{Group: "apps", Kind: "Deployment"}: {GVR: schema.GroupVersionResource{Group: "apps", Resource: "deployments"}, Namespaced: true},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: {GVR: schema.GroupVersionResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}},
}

func (c *memCluster) Resource(gvk schema.GroupVersionKind) (object.Resource, error) {
	r, ok := memResources[gvk.GroupKind()]
	if !ok || gvk.Version == "" {
		return object.Resource{}, &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
	}
	r.GVR.Version = gvk.Version
	return r, nil
}

func (c *memCluster) List(_ context.Context, r object.Resource, namespace string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, u := range c.live {
		res, err := c.Resource(u.GroupVersionKind())
		if err != nil || res.GVR.GroupResource() != r.GVR.GroupResource() || (namespace != "" && u.GetNamespace() != namespace) {
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

func (c *memCluster) DryRunApply(_ context.Context, _ object.Resource, obj *unstructured.Unstructured, _ bool) (*unstructured.Unstructured, error) {
	return c.applied(obj)
}

func (c *memCluster) PredictApply(_ context.Context, _, desired *unstructured.Unstructured, _ bool) (*unstructured.Unstructured, error) {
	return c.applied(desired)
}

// applied is desired as the cluster would store it: owned by gantry (every
// leaf, lists by key or index), with the live object's identity and the
// managed fields of its other managers.
func (c *memCluster) applied(desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	out := desired.DeepCopy()
	fields, err := fieldpath.SetFromValue(value.NewValueInterface(desired.Object)).ToJSON()
	if err != nil {
		return nil, err
	}
	var fieldsV1 any
	if err := json.Unmarshal(fields, &fieldsV1); err != nil {
		return nil, err
	}
	entries := []any{map[string]any{"manager": ssa.FieldManager, "operation": "Apply", "apiVersion": desired.GetAPIVersion(), "fieldsType": "FieldsV1", "fieldsV1": fieldsV1}}
	ref := object.RefOf(desired)
	for _, l := range c.live {
		if object.RefOf(l) != ref {
			continue
		}
		md, _ := l.Object["metadata"].(map[string]any)
		for _, k := range []string{"uid", "resourceVersion", "creationTimestamp"} {
			if v, ok := md[k]; ok {
				out.Object["metadata"].(map[string]any)[k] = v
			}
		}
		others, _ := md["managedFields"].([]any)
		for _, e := range others {
			if m, ok := e.(map[string]any); ok && m["manager"] == ssa.FieldManager {
				continue
			}
			entries = append(entries, e)
		}
		if st, ok := l.Object["status"]; ok {
			out.Object["status"] = st
		}
	}
	out.Object["metadata"].(map[string]any)["managedFields"] = entries
	return out, nil
}

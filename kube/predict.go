package kube

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/openapi3"
)

// PredictApply computes, without asking the server, what a server-side
// apply of desired by FieldManager would make of live (nil: the object does
// not exist yet), using the same field manager code as the API server and
// the cluster's OpenAPI schema. It is approximate: the server's defaulting,
// admission webhooks and value normalisation do not run. Conflicts with
// other managers are reported as the server would (an apply conflict error).
func (c *Cluster) PredictApply(ctx context.Context, live, desired *unstructured.Unstructured, force bool) (*unstructured.Unstructured, error) {
	gvk := desired.GroupVersionKind()
	tc, err := c.typeConverter(ctx, gvk.GroupVersion())
	if err != nil {
		return nil, err
	}
	fm, err := managedfields.NewDefaultFieldManager(tc, sameVersion{}, noDefaults{}, unstructuredCreater{}, gvk, gvk.GroupVersion(), "", nil)
	if err != nil {
		return nil, fmt.Errorf("predict apply of %s: %w", gvk.Kind, err)
	}
	desired = desired.DeepCopy()
	canonicalQuantities(desired.Object, "")
	current := live
	if current == nil {
		current = &unstructured.Unstructured{}
		current.SetGroupVersionKind(gvk)
		current.SetNamespace(desired.GetNamespace())
		current.SetName(desired.GetName())
	}
	out, err := fm.Apply(current.DeepCopy(), desired, FieldManager, force)
	if err != nil {
		return nil, err
	}
	u, ok := out.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("predict apply of %s: unexpected result type %T", gvk.Kind, out)
	}
	if gvk.Group == "" && gvk.Kind == "Secret" {
		foldStringData(u)
	}
	return u, nil
}

// foldStringData does what the API server does to a Secret: stringData is
// write-only, merged into data (base64) and never stored.
func foldStringData(u *unstructured.Unstructured) {
	sd, ok := u.Object["stringData"].(map[string]any)
	if !ok {
		return
	}
	data, _ := u.Object["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	u.Object["data"] = data
	delete(u.Object, "stringData")
}

// quantityMaps are keys whose values are maps of resource quantities
// (container resources, PVC capacity, ResourceQuota hard, LimitRange bounds);
// sizeLimit is a quantity itself.
var quantityMaps = map[string]bool{
	"requests": true, "limits": true, "capacity": true, "allocatable": true, "hard": true, "overhead": true,
	"max": true, "min": true, "default": true, "defaultRequest": true, "maxLimitRequestRatio": true,
}

// canonicalQuantities rewrites quantities in their canonical form ("1000m"
// becomes "1"), as the server stores them, so that a predicted apply does not
// read a differently written equal quantity as a change. Values that do not
// parse as quantities are left alone.
func canonicalQuantities(v any, key string) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if quantityMaps[k] {
				if m, ok := x.(map[string]any); ok {
					for name, q := range m {
						m[name] = canonicalQuantity(q)
					}
					continue
				}
			}
			if k == "sizeLimit" {
				t[k] = canonicalQuantity(x)
				continue
			}
			canonicalQuantities(x, k)
		}
	case []any:
		for _, x := range t {
			canonicalQuantities(x, key)
		}
	}
}

func canonicalQuantity(v any) any {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case int64:
		s = strconv.FormatInt(t, 10)
	case float64:
		s = strconv.FormatFloat(t, 'f', -1, 64)
	default:
		return v
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return v
	}
	return q.String()
}

// typeConverter builds (once per group-version) a structured-merge-diff type
// converter from the server's OpenAPI v3 document for gv.
func (c *Cluster) typeConverter(ctx context.Context, gv schema.GroupVersion) (managedfields.TypeConverter, error) {
	c.convMu.Lock()
	defer c.convMu.Unlock()
	if tc, ok := c.converters[gv]; ok {
		return tc, nil
	}
	doc, err := openapi3.NewRoot(c.discovery.OpenAPIV3()).GVSpec(gv)
	if err != nil {
		// A CRD created a moment ago: its schema may not be published yet,
		// or not in the cached path list. Look again, then make do with a
		// schema deduced from the objects themselves (maps merge, lists are
		// atomic): the prediction is approximate either way.
		c.discovery.Invalidate()
		if doc, err = openapi3.NewRoot(c.discovery.OpenAPIV3()).GVSpec(gv); err != nil {
			c.log.Debug("no OpenAPI schema; predicting with a deduced one", "group_version", gv, "error", err)
			return managedfields.NewDeducedTypeConverter(), nil
		}
	}
	if doc.Components == nil {
		return nil, fmt.Errorf("OpenAPI schema of %s has no components", gv)
	}
	tc, err := managedfields.NewTypeConverter(doc.Components.Schemas, false)
	if err != nil {
		return nil, fmt.Errorf("OpenAPI schema of %s: %w", gv, err)
	}
	c.converters[gv] = tc
	return tc, nil
}

// sameVersion converts unstructured objects only to the version they are in:
// gantry predicts with live and desired read at the desired object's version.
type sameVersion struct{}

func (sameVersion) Convert(in, out, _ any) error {
	src, ok1 := in.(*unstructured.Unstructured)
	dst, ok2 := out.(*unstructured.Unstructured)
	if !ok1 || !ok2 {
		return fmt.Errorf("cannot convert %T to %T", in, out)
	}
	dst.Object = runtime.DeepCopyJSON(src.Object)
	return nil
}

func (sameVersion) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("cannot convert %T", in)
	}
	if target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{u.GroupVersionKind()}); !ok || target != u.GroupVersionKind() {
		return nil, fmt.Errorf("cannot convert %s to another version locally", u.GroupVersionKind())
	}
	return u, nil
}

func (sameVersion) ConvertFieldLabel(schema.GroupVersionKind, string, string) (string, string, error) {
	return "", "", fmt.Errorf("field labels are not converted locally")
}

type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}

type unstructuredCreater struct{}

func (unstructuredCreater) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

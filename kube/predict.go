package kube

import (
	"context"
	"fmt"

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
	current := live
	if current == nil {
		current = &unstructured.Unstructured{}
		current.SetGroupVersionKind(gvk)
		current.SetNamespace(desired.GetNamespace())
		current.SetName(desired.GetName())
	}
	out, err := fm.Apply(current.DeepCopy(), desired.DeepCopy(), FieldManager, force)
	if err != nil {
		return nil, err
	}
	u, ok := out.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("predict apply of %s: unexpected result type %T", gvk.Kind, out)
	}
	return u, nil
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
		return nil, fmt.Errorf("OpenAPI schema of %s: %w", gv, err)
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

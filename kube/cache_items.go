package kube

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/object"
)

// Objects with a top-level items field.
//
// The API server decodes a stored custom resource with client-go's
// unstructured decoder, which takes any document with a top-level "items"
// for a list. An object of a kind whose schema lets it carry one (a root
// with x-kubernetes-preserve-unknown-fields, or an items property) breaks
// the server's own watch cache of the resource: from the first such object,
// a watch of the resource sees no event at all, of any object, until the
// server rebuilds its cache (half a minute on the test control plane; again
// at the next change of such an object), and it says nothing. A direct
// LIST decodes each item as an object and is right. So the Cache never
// serves such a resource from a watch: it lists it directly at every List.

// crdResource is the resource of CustomResourceDefinitions.
var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// unwatchable says why the objects of gvr must not be served from a watch
// (they may carry a top-level items field), or "" when they may. Kinds
// built into the API server never carry one; a custom resource is decided
// by its CustomResourceDefinition, and one that cannot be read (forbidden)
// is listed directly too: whether a watch could be trusted is unknown.
func (c *Cluster) unwatchable(ctx context.Context, gvr schema.GroupVersionResource) (string, error) {
	if !strings.Contains(gvr.Group, ".") {
		return "", nil // built in: the group of a CRD is a domain name, with a dot
	}
	crd, err := c.dynamic.Resource(crdResource).Get(ctx, gvr.Resource+"."+gvr.Group, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil // not a custom resource
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("its CustomResourceDefinition cannot be read (grant get on customresourcedefinitions to let gantry watch it): %v", err), nil
	case err != nil:
		return "", fmt.Errorf("read the CustomResourceDefinition of %s: %w", gvr.GroupResource(), describeTransport(c.host, err))
	}
	return crdAllowsItems(crd), nil
}

// crdAllowsItems says how the schema of crd lets its objects carry a
// top-level items field, or "" when no version's does. A CRD that cannot be
// read as one (fields of the wrong types) is taken to allow it.
func crdAllowsItems(crd *unstructured.Unstructured) string {
	if keep, _, _ := object.Field(crd.Object, "spec", "preserveUnknownFields"); keep == true {
		return "its CustomResourceDefinition keeps unknown fields (spec.preserveUnknownFields)"
	}
	versions, err := object.ListField(crd.Object, "spec", "versions")
	if err != nil {
		return "its CustomResourceDefinition cannot be read: " + err.Error()
	}
	for i, v := range versions {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("its CustomResourceDefinition cannot be read: spec.versions[%d] must be a mapping, found %s", i, object.Describe(v))
		}
		name, _ := m["name"].(string)
		if why := rootAllowsItems(m); why != "" {
			return fmt.Sprintf("the schema of its version %q %s", name, why)
		}
	}
	return ""
}

// rootAllowsItems says how the root schema of a CRD version lets objects
// carry a top-level items field, or "".
func rootAllowsItems(version map[string]any) string {
	v, ok, err := object.Field(version, "schema", "openAPIV3Schema")
	if err != nil || !ok || v == nil {
		return "has no schema: any field is kept"
	}
	root, ok := v.(map[string]any)
	if !ok {
		return "is not a mapping"
	}
	if root["x-kubernetes-preserve-unknown-fields"] == true {
		return "keeps unknown fields at the top level (x-kubernetes-preserve-unknown-fields)"
	}
	if extra, ok := root["additionalProperties"]; ok && extra != false {
		return "allows any top-level field (additionalProperties)"
	}
	props, _ := root["properties"].(map[string]any)
	if _, ok := props["items"]; ok {
		return "declares a top-level items field"
	}
	return ""
}

// hasItems reports whether u, an object of a kind that is not a list,
// carries a top-level items field.
func hasItems(u *unstructured.Unstructured) bool {
	_, ok := u.Object["items"]
	return ok
}

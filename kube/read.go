package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

// List returns every object of resource r in namespace ("" for all
// namespaces, or for a cluster-scoped resource) with one unpaginated LIST.
func (c *Cluster) List(ctx context.Context, r object.Resource, namespace string) ([]*unstructured.Unstructured, error) {
	list, err := c.resource(r, namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		where := r.GVR.Resource
		if namespace != "" {
			where += " in namespace " + namespace
		}
		return nil, fmt.Errorf("list %s: %w", where, describeTransport(c.host, err))
	}
	out := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

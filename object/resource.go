package object

import "k8s.io/apimachinery/pkg/runtime/schema"

// Resource is where objects of one kind live in the API.
type Resource struct {
	// GVR is the group, version and plural resource name.
	GVR schema.GroupVersionResource
	// Namespaced is false for cluster-scoped kinds.
	Namespaced bool
}

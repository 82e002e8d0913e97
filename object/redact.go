package object

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// SensitiveValue replaces every Secret value gantry shows or logs.
const SensitiveValue = "(sensitive value)"

// LastApplied is kubectl's copy of the whole applied object in an
// annotation, Secret data included.
const LastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// lastApplied is LastApplied, for this file.
const lastApplied = LastApplied

// IsSecret reports whether ref is a core/v1 Secret.
func (r Ref) IsSecret() bool { return r.Group == "" && r.Kind == "Secret" }

// Redacted returns u, or for a Secret a deep copy whose data and stringData
// values (keys kept, so changes stay visible per key) and any
// last-applied-configuration annotation are replaced by SensitiveValue.
// Every rendering of objects for humans goes through it.
func Redacted(u *unstructured.Unstructured) *unstructured.Unstructured {
	if !RefOf(u).IsSecret() {
		return u
	}
	c := u.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		m, ok := c.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for k := range m {
			m[k] = SensitiveValue
		}
	}
	if ann := c.GetAnnotations(); ann[lastApplied] != "" {
		ann[lastApplied] = SensitiveValue
		c.SetAnnotations(ann)
	}
	return c
}

package object

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// SensitiveValue replaces every Secret value gantry shows or logs.
const SensitiveValue = "(sensitive value)"

// LastApplied is kubectl's copy of the whole applied object in an
// annotation, Secret data included.
const LastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// IsSecret reports whether ref is a core/v1 Secret.
func (r Ref) IsSecret() bool { return r.Group == "" && r.Kind == "Secret" }

// Redacted returns u, or for a Secret a deep copy whose sensitive fields
// (SensitiveFields: data and stringData values, keys kept so changes stay
// visible per key, and annotations carrying Secret content) read
// SensitiveValue. Every rendering of objects for humans goes through it.
func Redacted(u *unstructured.Unstructured) *unstructured.Unstructured {
	if !RefOf(u).IsSecret() {
		return u
	}
	c := u.DeepCopy()
	MapSensitive(c, func(SensitiveField) any { return SensitiveValue })
	return c
}

package object

// KappOriginal is kapp's copy of the whole applied object in an annotation,
// Secret data included (carvel-dev/kapp#137).
const KappOriginal = "kapp.k14s.io/original"

// LastApplied is kubectl's copy of the whole applied object in an
// annotation, Secret data included.
const LastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// IsSecret reports whether ref is a core/v1 Secret.
func (r Ref) IsSecret() bool { return r.Group == "" && r.Kind == "Secret" }

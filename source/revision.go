package source

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

// Revision is the exact set of objects one commit renders to.
type Revision struct {
	// Commit is the full SHA of the rendered commit.
	Commit string
	// Objects are the rendered objects, sorted by object.Compare of their
	// refs; no two have the same ref.
	Objects []*unstructured.Unstructured
	// BytesRead is how many bytes of the commit the render read, every read
	// counted (the bound is RenderOptions.MaxRenderBytes). Not part of the
	// digest.
	BytesRead int64
}

// NewRevision sorts objs into a Revision. Two objects with the same ref are
// an error naming the ref.
func NewRevision(commit string, objs []*unstructured.Unstructured) (*Revision, error) {
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b *unstructured.Unstructured) int {
		return object.Compare(object.RefOf(a), object.RefOf(b))
	})
	for i, u := range sorted {
		if i > 0 && object.RefOf(sorted[i-1]) == object.RefOf(u) {
			return nil, fmt.Errorf("%s is rendered twice: each object may appear once", object.RefOf(u))
		}
	}
	return &Revision{Commit: commit, Objects: sorted}, nil
}

// Digest identifies the rendered content, independently of the commit: an
// HMAC-SHA256 under the stack's key over the keyed hashes of the objects in
// Objects order. Two commits that render the same objects have the same
// digest for a stack; any change to any object changes it. It is keyed
// because it covers Secret values: an unkeyed digest, shown by the API and
// in plans, would confirm a guessed value offline.
func (r *Revision) Digest(key object.HashKey) (object.Hash, error) {
	return Digest(key, r.Objects)
}

// Digest is Revision.Digest of objs, which are sorted as in a Revision.
func Digest(key object.HashKey, objs []*unstructured.Unstructured) (object.Hash, error) {
	parts := make([][]byte, len(objs))
	for i, u := range objs {
		h, err := key.HashOf(u)
		if err != nil {
			return object.Hash{}, err
		}
		parts[i] = h[:]
	}
	return key.Sum("revision", parts...)
}

package source

import (
	"crypto/sha256"
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
	// Digest identifies the rendered content, independently of the commit: the
	// SHA-256 over the objects' hashes in Objects order. Two commits that render
	// the same objects have the same Digest; any change to any object changes it.
	Digest object.Hash
	// BytesRead is how many bytes of the commit the render read, every read
	// counted (the bound is RenderOptions.MaxRenderBytes). Not part of the
	// digest.
	BytesRead int64
}

// NewRevision sorts objs into a Revision and computes its digest. Two objects
// with the same ref are an error naming the ref.
func NewRevision(commit string, objs []*unstructured.Unstructured) (*Revision, error) {
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b *unstructured.Unstructured) int {
		return object.Compare(object.RefOf(a), object.RefOf(b))
	})
	d := sha256.New()
	for i, u := range sorted {
		if i > 0 && object.RefOf(sorted[i-1]) == object.RefOf(u) {
			return nil, fmt.Errorf("%s is rendered twice: each object may appear once", object.RefOf(u))
		}
		h, err := object.HashOf(u)
		if err != nil {
			return nil, err
		}
		d.Write(h[:])
	}
	r := &Revision{Commit: commit, Objects: sorted}
	d.Sum(r.Digest[:0])
	return r, nil
}

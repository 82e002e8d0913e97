package object

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Hash is the SHA-256 of an object's canonical JSON encoding. Equal objects
// have equal hashes whatever the order of keys in the YAML they came from.
type Hash [sha256.Size]byte

// String returns the hash as "sha256:" followed by lowercase hex.
func (h Hash) String() string {
	return "sha256:" + hex.EncodeToString(h[:])
}

// Canonical returns u's canonical JSON encoding: object keys sorted, no
// insignificant whitespace. encoding/json sorts map keys, and unstructured
// content is made only of maps, slices and scalars, so this is deterministic.
func Canonical(u *unstructured.Unstructured) ([]byte, error) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", RefOf(u), err)
	}
	return b, nil
}

// HashOf returns the hash of u's canonical encoding.
func HashOf(u *unstructured.Unstructured) (Hash, error) {
	b, err := Canonical(u)
	if err != nil {
		return Hash{}, err
	}
	return sha256.Sum256(b), nil
}

// ShortSHA abbreviates a hex digest, such as a Git commit SHA, to the 12
// characters gantry shows everywhere (Git's own abbreviations are 7+).
func ShortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

package source_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/source"
)

// pinRevision is a revision holding a ConfigMap and a Secret whose only
// unknown is a 4-digit PIN.
func pinRevision(t *testing.T, pin string) *source.Revision {
	t.Helper()
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "door", "namespace": "shop"}, "stringData": map[string]any{"PIN": pin}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "settings", "namespace": "shop"}, "data": map[string]any{"color": "blue"}}},
	}
	rev, err := source.NewRevision("0123456789abcdef0123456789abcdef01234567", objs)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// unkeyedDigest is the revision digest as gantry computed it before it was
// keyed: SHA-256 over the SHA-256 of each object's canonical JSON. An
// attacker who sees a digest and knows everything but the Secret tries it.
func unkeyedDigest(t *testing.T, rev *source.Revision) [32]byte {
	d := sha256.New()
	for _, u := range rev.Objects {
		b, err := json.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		d.Write(h[:])
	}
	var out [32]byte
	d.Sum(out[:0])
	return out
}

// TestRevisionDigestConfirmsNoGuess: the digest of a revision holding a
// Secret cannot be used to confirm a guess of its value without the stack's
// key. Brute-forcing all 10,000 PINs against the digest gantry shows finds
// nothing with the unkeyed formula (or an empty key), and finds exactly the
// PIN with the key: the search itself works.
func TestRevisionDigestConfirmsNoGuess(t *testing.T) {
	t.Parallel()
	key := object.HashKey("the stack's key, never shown")
	shown, err := pinRevision(t, "4821").Digest(key)
	if err != nil {
		t.Fatal(err)
	}
	var unkeyed, withKey []string
	for i := range 10000 {
		pin := fmt.Sprintf("%04d", i)
		rev := pinRevision(t, pin)
		if unkeyedDigest(t, rev) == shown {
			unkeyed = append(unkeyed, pin)
		}
		if d, err := rev.Digest(key); err == nil && d == shown {
			withKey = append(withKey, pin)
		}
	}
	if len(unkeyed) > 0 {
		t.Errorf("the unkeyed formula confirms PIN %v from the digest", unkeyed)
	}
	if len(withKey) != 1 || withKey[0] != "4821" {
		t.Errorf("with the key, the search finds %v, want [4821]: the test searches wrongly", withKey)
	}
	if _, err := pinRevision(t, "4821").Digest(nil); err == nil {
		t.Error("a digest without a key was computed")
	}
}

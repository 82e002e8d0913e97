package ssa

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/gantryops/gantry/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Fingerprint is the salted hash of what an apply's outcome depends on in a
// live object: everything but status, resourceVersion, generation, managed
// field timestamps and status-subresource entries. Status churn (a
// Deployment's conditions) leaves it unchanged; any spec, metadata or
// ownership change moves it.
func Fingerprint(salt []byte, u *unstructured.Unstructured) (object.Hash, error) {
	// Shallow copies of the two maps edited; the rest is shared, read-only.
	top := make(map[string]any, len(u.Object))
	for k, v := range u.Object {
		if k != "status" {
			top[k] = v
		}
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		meta := make(map[string]any, len(md))
		for k, v := range md {
			switch k {
			case "resourceVersion", "generation", "managedFields":
			default:
				meta[k] = v
			}
		}
		entries, err := ManagedFields(u)
		if err != nil {
			return object.Hash{}, err
		}
		var kept []any
		for _, e := range entries {
			if e.Subresource == "status" {
				continue
			}
			e.Time = nil
			raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&e)
			if err != nil {
				return object.Hash{}, err
			}
			kept = append(kept, raw)
		}
		if kept != nil {
			meta["managedFields"] = kept
		}
		top["metadata"] = meta
	}
	return saltedHash(salt, top, "")
}

// DesiredHash is the salted hash of a prepared desired manifest together with
// the apply options that shape its outcome.
func DesiredHash(salt []byte, u *unstructured.Unstructured, force bool) (object.Hash, error) {
	return saltedHash(salt, u.Object, fmt.Sprintf("manager=%s force=%t", FieldManager, force))
}

// saltedHash is HMAC-SHA256 keyed by the stack's hash key over canonical
// JSON, so that hashes of Secrets confirm no guessed value without the key.
func saltedHash(salt []byte, v any, extra string) (object.Hash, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return object.Hash{}, err
	}
	mac := hmac.New(sha256.New, salt)
	mac.Write(b)
	mac.Write([]byte{0})
	mac.Write([]byte(extra))
	var h object.Hash
	mac.Sum(h[:0])
	return h, nil
}

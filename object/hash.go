package object

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Hash is a SHA-256 or HMAC-SHA256 sum.
type Hash [sha256.Size]byte

// String returns the hash as "sha256:" followed by lowercase hex.
func (h Hash) String() string {
	return "sha256:" + hex.EncodeToString(h[:])
}

// Keyed returns a HashKey's sum as gantry shows it: "hmac-sha256:"
// followed by lowercase hex.
func (h Hash) Keyed() string {
	return KeyedPrefix + hex.EncodeToString(h[:])
}

// KeyedPrefix starts every keyed digest gantry shows.
const KeyedPrefix = "hmac-sha256:"

// HashKey keys every hash gantry shows or stores over object content: the
// digests of revisions and plans, memo entries and live fingerprints. They
// cover Secret values, and an unkeyed hash of a Secret confirms a guessed
// value offline (a 4-digit PIN in milliseconds). Each stack has its own key
// (state.Stack.HashKey): derived from GANTRY_SECRET_KEY and the stack's
// random salt, or the salt alone without GANTRY_SECRET_KEY.
type HashKey []byte

// ErrNoHashKey is returned when a keyed hash is asked for without a key.
var ErrNoHashKey = errors.New("no hash key: hashes over object content must be keyed with the stack's key")

// Sum returns HMAC-SHA256 under k over domain (what is hashed, so that sums
// of different things never coincide) and parts, each length-prefixed.
func (k HashKey) Sum(domain string, parts ...[]byte) (Hash, error) {
	if len(k) == 0 {
		return Hash{}, ErrNoHashKey
	}
	mac := hmac.New(sha256.New, k)
	for _, p := range append([][]byte{[]byte(domain)}, parts...) {
		mac.Write(binary.BigEndian.AppendUint64(nil, uint64(len(p))))
		mac.Write(p)
	}
	var h Hash
	mac.Sum(h[:0])
	return h, nil
}

// HashOf returns the keyed hash of u's canonical encoding. Equal objects
// have equal hashes whatever the order of keys in the YAML they came from.
func (k HashKey) HashOf(u *unstructured.Unstructured) (Hash, error) {
	b, err := Canonical(u)
	if err != nil {
		return Hash{}, err
	}
	return k.Sum("object", b)
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

// ShortSHA abbreviates a hex digest, such as a Git commit SHA, to the 12
// characters gantry shows everywhere (Git's own abbreviations are 7+).
func ShortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

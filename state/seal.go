package state

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

// Sealed Secret values start with one of these prefixes.
const (
	sealedEncrypted = "gantry:aes256gcm:v1:"
	sealedHashed    = "gantry:hmac-sha256:"
)

// ErrSecretNotRecoverable is returned (wrapped) when a stored Secret was kept
// as salted hashes only (no GANTRY_SECRET_KEY when it was stored), so its
// values cannot be read back.
var ErrSecretNotRecoverable = errors.New("the values of this Secret were stored as salted hashes only")

// sealer seals Secret values before they reach Postgres: encrypted with
// AES-256-GCM when a key is configured, else replaced by a salted HMAC.
type sealer struct {
	aead cipher.AEAD // nil: no key, hash only
	key  []byte
}

// newSealer parses GANTRY_SECRET_KEY: 32 random bytes, base64-encoded
// (`openssl rand -base64 32`). An empty key gives a hash-only sealer.
func newSealer(encoded string) (*sealer, error) {
	if encoded == "" {
		return &sealer{}, nil
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil || len(key) != 32 {
		return nil, errors.New("GANTRY_SECRET_KEY must be 32 random bytes, base64-encoded: create one with `openssl rand -base64 32`")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, key: key}, nil
}

// seal returns u, or for a Secret a copy whose data and stringData values are
// sealed. Sealing is deterministic (the nonce derives from the key and the
// value), so equal Secrets seal equally and stay content-addressed.
func (s *sealer) seal(u *unstructured.Unstructured, salt []byte) *unstructured.Unstructured {
	ref := object.RefOf(u)
	if !ref.IsSecret() {
		return u
	}
	c := u.DeepCopy()
	forEachValue(c, func(field, key, value string) string {
		ad := []byte(ref.String() + "\x00" + field + "\x00" + key)
		if s.aead == nil {
			return sealedHashed + hex.EncodeToString(macOf(salt, ad, value))
		}
		nonce := macOf(s.key, ad, value)[:s.aead.NonceSize()]
		sealed := s.aead.Seal(nonce, nonce, []byte(value), ad)
		return sealedEncrypted + base64.StdEncoding.EncodeToString(sealed)
	})
	return c
}

// unseal reverses seal. Hashed values cannot be reversed: the error names
// the Secret and says what to do.
func (s *sealer) unseal(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ref := object.RefOf(u)
	if !ref.IsSecret() {
		return u, nil
	}
	c := u.DeepCopy()
	var errs []error
	forEachValue(c, func(field, key, value string) string {
		ad := []byte(ref.String() + "\x00" + field + "\x00" + key)
		switch {
		case strings.HasPrefix(value, sealedHashed):
			errs = append(errs, fmt.Errorf("%s: %w (set GANTRY_SECRET_KEY before storing to keep them, or re-render the commit from Git)", ref, ErrSecretNotRecoverable))
		default:
			plain, err := s.unsealValue(ref, ad, field, key, value)
			if err != nil {
				errs = append(errs, err)
				return value
			}
			return plain
		}
		return value
	})
	if err := errors.Join(dedupe(errs)...); err != nil {
		return nil, err
	}
	return c, nil
}

// ErrSecretUnproven is returned (wrapped) when a Secret stored as salted
// hashes cannot be proven from the Secret rendered again.
var ErrSecretUnproven = errors.New("cannot prove the Secret's values")

// prove fills a Secret stored as salted hashes from candidate (the same
// Secret rendered again from its commit), taking each value only if its
// salted hash matches the stored one. Encrypted values are unsealed as usual.
func (s *sealer) prove(sealed, candidate *unstructured.Unstructured, salt []byte) (*unstructured.Unstructured, error) {
	ref := object.RefOf(sealed)
	if candidate == nil {
		return nil, fmt.Errorf("%s: %w: the commit rendered again has no such Secret", ref, ErrSecretUnproven)
	}
	c := sealed.DeepCopy()
	var errs []error
	forEachValue(c, func(field, key, value string) string {
		ad := []byte(ref.String() + "\x00" + field + "\x00" + key)
		if !strings.HasPrefix(value, sealedHashed) {
			plain, err := s.unsealValue(ref, ad, field, key, value)
			if err != nil {
				errs = append(errs, err)
				return value
			}
			return plain
		}
		got, _, _ := unstructured.NestedString(candidate.Object, field, key)
		want, err := hex.DecodeString(strings.TrimPrefix(value, sealedHashed))
		if err != nil || !hmac.Equal(want, macOf(salt, ad, got)) {
			errs = append(errs, fmt.Errorf("%s: %w: %s.%s differs from the commit rendered again", ref, ErrSecretUnproven, field, key))
			return value
		}
		return got
	})
	if err := errors.Join(dedupe(errs)...); err != nil {
		return nil, err
	}
	return c, nil
}

// macOf is HMAC-SHA256 under key over a value and where it is (ad).
func macOf(key, ad []byte, value string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(ad)
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return mac.Sum(nil)
}

// unsealValue decrypts one encrypted value.
func (s *sealer) unsealValue(ref object.Ref, ad []byte, field, key, value string) (string, error) {
	if !strings.HasPrefix(value, sealedEncrypted) {
		return "", fmt.Errorf("%s: %s.%s was stored unsealed: the database is not one gantry wrote", ref, field, key)
	}
	if s.aead == nil {
		return "", fmt.Errorf("%s: its values are encrypted and GANTRY_SECRET_KEY is not set: set the key they were stored with", ref)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(value, sealedEncrypted))
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", fmt.Errorf("%s: %s.%s: damaged sealed value", ref, field, key)
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], ad)
	if err != nil {
		return "", fmt.Errorf("%s: %s.%s cannot be decrypted: GANTRY_SECRET_KEY differs from the key it was stored with", ref, field, key)
	}
	return string(plain), nil
}

// forEachValue replaces each string value under data and stringData.
func forEachValue(u *unstructured.Unstructured, f func(field, key, value string) string) {
	for _, field := range []string{"data", "stringData"} {
		m, ok := u.Object[field].(map[string]any)
		if !ok {
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v, ok := m[k].(string); ok {
				m[k] = f(field, k, v)
			}
		}
	}
}

func dedupe(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}

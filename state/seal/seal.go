// Package seal seals Secret values before they reach the record: encrypted
// with AES-256-GCM under GANTRY_SECRET_KEY (bound to the object and field
// they belong to), or replaced by a salted HMAC without a key; and keys the
// hashes gantry shows and stores of a stack's objects. No I/O.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/sensitive"
)

// Sealed Secret values start with one of these prefixes.
const (
	sealedEncrypted = sensitive.SealedEncrypted
	sealedHashed    = sensitive.SealedHashed
)

// ErrSecretNotRecoverable is returned (wrapped) when a stored Secret was kept
// as salted hashes only (no GANTRY_SECRET_KEY when it was stored), so its
// values cannot be read back.
var ErrSecretNotRecoverable = errors.New("the values of this Secret were stored as salted hashes only")

// Sealer seals Secret values before they reach Postgres: encrypted with
// AES-256-GCM when a key is configured, else replaced by a salted HMAC.
type Sealer struct {
	aead cipher.AEAD // nil: no key, hash only
	key  []byte
	// hashRoot derives the stacks' hash keys from GANTRY_SECRET_KEY; nil
	// without it.
	hashRoot []byte
	// check tells whether GANTRY_SECRET_KEY is the key a database was
	// sealed with (its secret_key_check row); nil without it.
	check []byte
}

// New parses GANTRY_SECRET_KEY: 32 random bytes, base64-encoded
// (`openssl rand -base64 32`). An empty key gives a hash-only Sealer.
func New(encoded string) (*Sealer, error) {
	if encoded == "" {
		return &Sealer{}, nil
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
	return &Sealer{aead: aead, key: key, hashRoot: derive(key, "gantry hash v1"), check: derive(key, keyCheckLabel)}, nil
}

// keyCheckLabel is what a key's check value is the HMAC of.
const keyCheckLabel = "gantry key check v1"

// derive is HMAC-SHA256 of label under key: values derived from
// GANTRY_SECRET_KEY for different uses, none revealing it or another.
func derive(key []byte, label string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

// HashKey returns the key of a stack's hashes: HMAC-SHA256 of its salt under
// a key derived from GANTRY_SECRET_KEY, so that a reader of the database
// (who has the salt) cannot confirm a guessed Secret value against a digest
// either; without GANTRY_SECRET_KEY, the salt itself.
func (s *Sealer) HashKey(salt []byte) object.HashKey {
	if s.hashRoot == nil {
		return object.HashKey(bytes.Clone(salt))
	}
	mac := hmac.New(sha256.New, s.hashRoot)
	mac.Write(salt)
	return mac.Sum(nil)
}

// Seal returns u, or, when it holds sensitive fields under p (a Secret's
// data and stringData, declared fields, annotations copying or quoting
// them: sensitive.Policy.Fields), a copy with those fields sealed. Sealing
// is deterministic (the nonce derives from the key and the value), so
// equal objects seal equally and stay content-addressed. A value that
// already reads as sealed is sealed again, so that it round-trips. A
// sensitive value that is not a string is refused rather than stored as
// it is.
func (s *Sealer) Seal(u *unstructured.Unstructured, salt []byte, p sensitive.Policy) (*unstructured.Unstructured, error) {
	return s.sealFields(u, salt, p.Fields(u))
}

// Reseal returns sealed (stored by s) sealed again with next instead: the
// same fields, found without a policy (a sealed value reads as sealed).
func (s *Sealer) Reseal(sealed *unstructured.Unstructured, next *Sealer) (*unstructured.Unstructured, error) {
	fields := sensitive.Policy{}.Fields(sealed)
	plain, err := s.Unseal(sealed)
	if err != nil {
		return nil, err
	}
	out, err := next.sealFields(plain, nil, fields)
	return out, sensitive.Policy{}.ScrubError(err, plain)
}

// sealFields returns a copy of u with the values at the fields' paths (as
// u holds them) sealed; u itself when there are none.
func (s *Sealer) sealFields(u *unstructured.Unstructured, salt []byte, fields []sensitive.Field) (*unstructured.Unstructured, error) {
	if len(fields) == 0 {
		return u, nil
	}
	ref := object.RefOf(u)
	c := u.DeepCopy()
	var errs []error
	for _, f := range fields {
		v, _ := object.GetField(c.Object, f.Path)
		value, ok := v.(string)
		switch {
		case v == nil:
			continue // null holds nothing
		case !ok && ref.IsSecret():
			errs = append(errs, fmt.Errorf("%s: %s is not a string: Secret values are strings (quote it in the manifest)", ref, f))
			continue
		case !ok:
			errs = append(errs, fmt.Errorf("%s: %s is sensitive but not a string: sensitive values are strings (quote it in the manifest)", ref, f))
			continue
		}
		ad := sealingData(ref, f)
		if s.aead == nil {
			object.SetField(c.Object, f.Path, sealedHashed+hex.EncodeToString(macOf(salt, ad, value)))
			continue
		}
		nonce := macOf(s.key, ad, value)[:s.aead.NonceSize()]
		sealed := s.aead.Seal(nonce, nonce, []byte(value), ad)
		object.SetField(c.Object, f.Path, sealedEncrypted+base64.StdEncoding.EncodeToString(sealed))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// IsAnnotation reports whether f is an annotation: revisions stored before
// annotations were sealed hold them in plaintext, which is left as it is.
func IsAnnotation(f sensitive.Field) bool { return f.Path[0] == "metadata" }

// sealingData binds a sealed value to its object and field: it is
// "REF\x00data\x00KEY" for data and stringData entries, as it always was.
func sealingData(ref object.Ref, f sensitive.Field) []byte {
	return []byte(ref.String() + "\x00" + strings.Join(f.Path, "\x00"))
}

// Unseal reverses Seal, finding the sealed fields without a policy (a
// Secret's content, and every value that reads as sealed). Hashed values
// cannot be reversed: the error names the object and says what to do.
func (s *Sealer) Unseal(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ref := object.RefOf(u)
	return s.open(u, func(sensitive.Field, string) (string, error) {
		return "", fmt.Errorf("%s: %w (set GANTRY_SECRET_KEY before storing to keep them, or re-render the commit from Git)", ref, ErrSecretNotRecoverable)
	})
}

// ErrSecretUnproven is returned (wrapped) when a Secret stored as salted
// hashes cannot be proven from the Secret rendered again.
var ErrSecretUnproven = errors.New("cannot prove the Secret's values")

// Prove fills a Secret stored as salted hashes from candidate (the same
// Secret rendered again from its commit), taking each value only if its
// salted hash matches the stored one. Encrypted values are unsealed as usual.
func (s *Sealer) Prove(sealed, candidate *unstructured.Unstructured, salt []byte) (*unstructured.Unstructured, error) {
	ref := object.RefOf(sealed)
	if candidate == nil {
		return nil, fmt.Errorf("%s: %w: the commit rendered again has no such Secret", ref, ErrSecretUnproven)
	}
	return s.open(sealed, func(f sensitive.Field, value string) (string, error) {
		got, _ := object.GetField(candidate.Object, f.Path)
		plain, isString := got.(string)
		want, err := hex.DecodeString(strings.TrimPrefix(value, sealedHashed))
		if !isString || err != nil || !hmac.Equal(want, macOf(salt, sealingData(ref, f), plain)) {
			return "", fmt.Errorf("%s: %w: %s differs from the commit rendered again", ref, ErrSecretUnproven, f)
		}
		return plain, nil
	})
}

// open returns a copy of the sealed Secret u with its encrypted values
// decrypted and each hashed one (which cannot be reversed) replaced by what
// hashed returns for it; the errors of every field are joined.
func (s *Sealer) open(u *unstructured.Unstructured, hashed func(f sensitive.Field, value string) (string, error)) (*unstructured.Unstructured, error) {
	fields := sensitive.Policy{}.Fields(u)
	if len(fields) == 0 {
		return u, nil
	}
	ref := object.RefOf(u)
	c := u.DeepCopy()
	var errs []error
	for _, f := range fields {
		value, _ := f.Value.(string)
		var plain string
		var err error
		switch {
		case f.Value == nil:
			continue // null holds nothing
		case IsAnnotation(f) && !sensitive.IsSealed(value):
			continue // stored in plaintext by an older gantry
		case strings.HasPrefix(value, sealedHashed):
			plain, err = hashed(f, value)
		default:
			plain, err = s.UnsealValue(ref, f, value)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		object.SetField(c.Object, f.Path, plain)
	}
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

// UnsealValue decrypts one encrypted value.
func (s *Sealer) UnsealValue(ref object.Ref, f sensitive.Field, value string) (string, error) {
	if !strings.HasPrefix(value, sealedEncrypted) {
		return "", fmt.Errorf("%s: %s was stored unsealed: the database is not one gantry wrote", ref, f)
	}
	if s.aead == nil {
		return "", fmt.Errorf("%s: its values are encrypted and GANTRY_SECRET_KEY is not set: set the key they were stored with", ref)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(value, sealedEncrypted))
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", fmt.Errorf("%s: %s: damaged sealed value", ref, f)
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], sealingData(ref, f))
	if err != nil {
		return "", fmt.Errorf("%s: %s cannot be decrypted: GANTRY_SECRET_KEY differs from the key it was stored with", ref, f)
	}
	return string(plain), nil
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

// HasKey reports whether the sealer encrypts (GANTRY_SECRET_KEY is set).
func (s *Sealer) HasKey() bool { return s.aead != nil }

// Check is the value that tells whether GANTRY_SECRET_KEY is the key a
// database was sealed with; nil without a key.
func (s *Sealer) Check() []byte { return s.check }

// SameKey reports whether s and o seal with the same key.
func (s *Sealer) SameKey(o *Sealer) bool { return string(s.key) == string(o.key) }

package seal

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

const testKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes

func secret(value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "db", "namespace": "shop"},
		"stringData": map[string]any{"password": value},
	}}
}

// TestSealRoundTrips: a row per key setting, what Seal stores of a Secret
// value and what Unseal and Prove give back, without Postgres.
func TestSealRoundTrips(t *testing.T) {
	salt := []byte("0123456789abcdef")
	for _, tc := range []struct {
		name, key, prefix string
		unseals           bool
	}{
		{"with a key: encrypted, unsealed", testKey, object.SealedEncrypted, true},
		{"without a key: hashed, only proven", "", object.SealedHashed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := s.Seal(secret("918273"), salt)
			if err != nil {
				t.Fatal(err)
			}
			stored, _, _ := unstructured.NestedString(sealed.Object, "stringData", "password")
			if !strings.HasPrefix(stored, tc.prefix) || strings.Contains(stored, "918273") {
				t.Fatalf("stored %q, want %s… without the value", stored, tc.prefix)
			}
			again, _ := s.Seal(secret("918273"), salt)
			if v, _, _ := unstructured.NestedString(again.Object, "stringData", "password"); v != stored {
				t.Errorf("sealing is not deterministic: %q then %q", stored, v)
			}
			plain, err := s.Unseal(sealed)
			if tc.unseals {
				if v, _, _ := unstructured.NestedString(plain.Object, "stringData", "password"); err != nil || v != "918273" {
					t.Errorf("Unseal = %q, %v", v, err)
				}
			} else if !errors.Is(err, ErrSecretNotRecoverable) {
				t.Errorf("Unseal of a hashed value: %v, want ErrSecretNotRecoverable", err)
			}
			proven, err := s.Prove(sealed, secret("918273"), salt)
			if v, _, _ := unstructured.NestedString(proven.Object, "stringData", "password"); err != nil || v != "918273" {
				t.Errorf("Prove with the right value = %q, %v", v, err)
			}
			if !tc.unseals {
				if _, err := s.Prove(sealed, secret("000000"), salt); !errors.Is(err, ErrSecretUnproven) {
					t.Errorf("Prove with a wrong value: %v, want ErrSecretUnproven", err)
				}
			}
		})
	}
	if _, err := New("c2hvcnQ="); err == nil || !strings.Contains(err.Error(), "openssl rand -base64 32") {
		t.Errorf("a short key: %v, want how to make one", err)
	}
}

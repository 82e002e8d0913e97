package seal

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/sensitive"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
		{"with a key: encrypted, unsealed", testKey, sensitive.SealedEncrypted, true},
		{"without a key: hashed, only proven", "", sensitive.SealedHashed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := s.Seal(secret("918273"), salt, sensitive.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			stored, _, _ := unstructured.NestedString(sealed.Object, "stringData", "password")
			if !strings.HasPrefix(stored, tc.prefix) || strings.Contains(stored, "918273") {
				t.Fatalf("stored %q, want %s… without the value", stored, tc.prefix)
			}
			again, _ := s.Seal(secret("918273"), salt, sensitive.Policy{})
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

// TestSealDeclaredFields: a ConfigMap field the stack declares sensitive
// is sealed with its last-applied copy, found again without the policy
// (a sealed value reads as sealed), unsealed exactly, and resealed under
// another key; a value that merely looks sealed round-trips; a ConfigMap
// without declared fields is stored as it is.
func TestSealDeclaredFields(t *testing.T) {
	s, err := New(testKey)
	if err != nil {
		t.Fatal(err)
	}
	policy := sensitive.Of([]sensitive.Rule{{Kind: "ConfigMap", Fields: []string{"data.password"}}})
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "db", "namespace": "n", "annotations": map[string]any{object.LastApplied: `{"data":{"password":"918273-canary"}}`}},
		"data":     map[string]any{"password": "918273-canary", "user": "app", "lookalike": sensitive.SealedEncrypted + "not-really"}}}
	sealed, err := s.Seal(cm, nil, policy)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := object.Canonical(sealed)
	if strings.Contains(string(body), "918273-canary") || !strings.Contains(string(body), `"user":"app"`) {
		t.Fatalf("sealed: %s", body)
	}
	resealed := mustReseal(t, s, sealed)
	if _, err := s.Unseal(resealed); err == nil {
		t.Error("the resealed ConfigMap opens under the old key")
	}
	for _, u := range []*unstructured.Unstructured{sealed, resealed} {
		plain, err := sealerFor(t, u, s).Unseal(u)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(cm.Object, plain.Object); diff != "" {
			t.Errorf("unsealed (-stored +got)\n%s", diff)
		}
	}
	if same, _ := s.Seal(cm, nil, sensitive.Policy{}); same.Object["data"].(map[string]any)["password"] != "918273-canary" {
		t.Error("a ConfigMap without declared fields was sealed")
	}
}

var otherKey = base64.StdEncoding.EncodeToString([]byte("another key, 32 bytes long......"))

// mustReseal reseals u (sealed by s) under otherKey.
func mustReseal(t *testing.T, s *Sealer, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	next, err := New(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Reseal(u, next)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sealerFor returns the sealer that opens u: s, or one of otherKey for a
// resealed body.
func sealerFor(t *testing.T, u *unstructured.Unstructured, s *Sealer) *Sealer {
	t.Helper()
	if _, err := s.Unseal(u); err == nil {
		return s
	}
	next, err := New(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

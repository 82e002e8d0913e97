package state_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/sensitive"
	"github.com/gantryops/gantry/state"
)

// annotatedSecret carries its values in data, stringData, kubectl's and
// kapp's copies and an annotation of its own, beside annotations that hold
// nothing secret (one of them looking sealed).
func annotatedSecret(value string) *unstructured.Unstructured {
	b64 := base64.StdEncoding.EncodeToString([]byte(value))
	copyOf := `{"apiVersion":"v1","kind":"Secret","data":{"password":"` + b64 + `"}}`
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "db", "namespace": "app", "annotations": map[string]any{
			object.LastApplied: copyOf, object.KappOriginal: copyOf, "example.com/note": "was " + value,
			"example.com/team": "payments", "example.com/odd": "gantry:aes256gcm:v1:not-a-sealed-value",
		}},
		"data":       map[string]any{"password": b64},
		"stringData": map[string]any{"token": value},
	}}
}

// TestPutRevisionSealsAnnotations: every annotation carrying Secret content
// is sealed like data (with GANTRY_SECRET_KEY: read back exactly; without:
// proven from the Secret rendered again), no row holds the value in any
// form, and the other annotations stay readable.
func TestPutRevisionSealsAnnotations(t *testing.T) {
	t.Parallel()
	const canary = "canary-annotated-6d2e"
	for _, tc := range []struct {
		name string
		key  string
	}{{"with a key", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))}, {"without a key", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := srv.NewDatabase(t)
			s, err := state.Open(ctx, state.Options{DatabaseURL: dsn, SecretKey: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rev := &state.Revision{ID: state.NewID(), Stack: "web", Objects: []*unstructured.Unstructured{annotatedSecret(canary)}}
			if err := s.PutRevision(ctx, rev); err != nil {
				t.Fatal(err)
			}
			rows := dumpObjects(t, dsn)
			b64 := base64.StdEncoding.EncodeToString([]byte(canary))
			for _, leak := range []string{canary, b64, hex.EncodeToString([]byte(canary)), hex.EncodeToString([]byte(b64))} {
				if strings.Contains(rows, leak) {
					t.Errorf("a row holds %q: %s", leak, rows)
				}
			}
			sealed, err := s.SealedRevision(ctx, rev.ID)
			if err != nil {
				t.Fatal(err)
			}
			ann := sealed.Objects[0].GetAnnotations()
			if ann["example.com/team"] != "payments" || ann[object.LastApplied] == annotatedSecret(canary).GetAnnotations()[object.LastApplied] {
				t.Errorf("sealed annotations: %v", ann)
			}
			// Shown (history, show, diff), sealed values read as masked.
			for name, v := range (sensitive.Policy{}).Redacted(sealed.Objects[0]).GetAnnotations() {
				if sensitive.IsSealed(v) {
					t.Errorf("shown, annotation %s reads %q", name, v)
				}
			}
			var got *state.Revision
			if tc.key != "" {
				got, err = s.Revision(ctx, rev.ID)
			} else {
				candidates := map[object.Ref]*unstructured.Unstructured{object.RefOf(annotatedSecret(canary)): annotatedSecret(canary)}
				got, err = s.RevisionWithProof(ctx, rev.ID, candidates)
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(annotatedSecret(canary).Object, got.Objects[0].Object); diff != "" {
				t.Errorf("the Secret did not round-trip (-stored +loaded)\n%s", diff)
			}
			if tc.key != "" {
				return
			}
			// A copy rewritten since cannot slip into a restore.
			other := annotatedSecret(canary)
			_ = unstructured.SetNestedField(other.Object, `{"data":{"password":"b3RoZXI="}}`, "metadata", "annotations", object.LastApplied)
			_, err = s.RevisionWithProof(ctx, rev.ID, map[object.Ref]*unstructured.Unstructured{object.RefOf(other): other})
			if !errors.Is(err, state.ErrSecretUnproven) || !strings.Contains(err.Error(), "metadata.annotations."+object.LastApplied) || strings.Contains(err.Error(), canary) {
				t.Errorf("a rewritten copy: err = %v", err)
			}
		})
	}
}

// TestRevisionStoredWithPlaintextAnnotationLoads: revisions stored before
// annotations were sealed hold kubectl's copy in plaintext; they load as
// they are.
func TestRevisionStoredWithPlaintextAnnotationLoads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	s, err := state.Open(ctx, state.Options{DatabaseURL: dsn, SecretKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	secret := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "db", "namespace": "app", "annotations": map[string]any{object.LastApplied: `{"kind":"Secret"}`}},
		"stringData": map[string]any{"token": "old"}}}
	rev := &state.Revision{ID: state.NewID(), Stack: "web", Objects: []*unstructured.Unstructured{secret}}
	if err := s.PutRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	// Rewrite the stored body as an older gantry stored it.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var oldHash, body []byte
	if err := conn.QueryRow(ctx, `SELECT hash, body FROM objects`).Scan(&oldHash, &body); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["metadata"].(map[string]any)["annotations"] = map[string]any{object.LastApplied: `{"kind":"Secret"}`}
	legacy, _ := json.Marshal(m)
	sum := sha256.Sum256(legacy)
	if _, err := conn.Exec(ctx, `INSERT INTO objects (hash, body) VALUES ($1, $2)`, sum[:], legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE revision_objects SET object_hash = $1 WHERE object_hash = $2`, sum[:], oldHash); err != nil {
		t.Fatal(err)
	}
	got, err := s.Revision(ctx, rev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(secret.Object, got.Objects[0].Object); diff != "" {
		t.Errorf("(-stored +loaded)\n%s", diff)
	}
}

// TestPutRevisionRefusesNonStringSecretValues: a Secret value that is not a
// string is refused, naming the field and not the value, rather than
// stored as it is.
func TestPutRevisionRefusesNonStringSecretValues(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	secret := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "door", "namespace": "app"}, "stringData": map[string]any{"pin": int64(918273)}}}
	err := s.PutRevision(context.Background(), &state.Revision{ID: state.NewID(), Stack: "web", Objects: []*unstructured.Unstructured{secret}})
	if err == nil || !strings.Contains(err.Error(), "stringData.pin is not a string") || strings.Contains(err.Error(), "918273") {
		t.Errorf("err = %v, want a refusal naming stringData.pin without its value", err)
	}
	if rows := dumpObjects(t, dsn); strings.Contains(rows, "918273") {
		t.Errorf("the value was stored: %s", rows)
	}
}

// TestHashKey: a stack's hash key is its salt without GANTRY_SECRET_KEY;
// with it, a key derived from both: stable, and different per stack and
// per GANTRY_SECRET_KEY, so that the salt alone (in the database) confirms
// no guess against a digest.
func TestHashKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	open := func(key string) *state.Store {
		s, err := state.Open(ctx, state.Options{DatabaseURL: dsn, SecretKey: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	keyA, keyB := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	stackOf := func(s *state.Store, name string) *state.Stack {
		st, err := s.EnsureStack(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	plain, a, again := stackOf(open(""), "web"), stackOf(open(keyA), "web"), stackOf(open(keyA), "web")
	other := stackOf(open(keyA), "shop")
	// The same salt under another key: the database rotated to it.
	if _, err := open(keyA).RotateKey(ctx, keyB, "test"); err != nil {
		t.Fatal(err)
	}
	b := stackOf(open(keyB), "web")
	if !bytes.Equal(plain.HashKey, plain.Salt) {
		t.Error("without GANTRY_SECRET_KEY the hash key is not the salt")
	}
	if bytes.Equal(a.HashKey, a.Salt) || len(a.HashKey) != 32 {
		t.Errorf("with GANTRY_SECRET_KEY the hash key is the salt, or not 32 bytes: %x", a.HashKey)
	}
	if !bytes.Equal(a.HashKey, again.HashKey) || bytes.Equal(a.HashKey, b.HashKey) || bytes.Equal(a.HashKey, other.HashKey) {
		t.Error("hash keys: want stable, different per GANTRY_SECRET_KEY and per stack")
	}
	read, err := open(keyB).ReadStack(ctx, "web")
	if err != nil || !bytes.Equal(read.HashKey, b.HashKey) {
		t.Errorf("ReadStack's hash key differs from EnsureStack's: %v", err)
	}
}

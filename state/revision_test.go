package state_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/state"
)

func openStore(t *testing.T) (*state.Store, string) {
	t.Helper()
	dsn := srv.NewDatabase(t)
	s, err := state.Open(context.Background(), state.Options{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, dsn
}

func configMaps(n int, version func(i int) string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, n)
	for i := range out {
		out[i] = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%03d", i), "namespace": "app"},
			"data":     map[string]any{"version": version(i)},
		}}
	}
	return out
}

func TestRevisionsShareObjects(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	ctx := context.Background()
	first := &state.Revision{ID: state.NewID(), Stack: "web", Commit: "1111111111111111111111111111111111111111",
		Objects: configMaps(10, func(int) string { return "1" })}
	// The second revision changes one object of ten.
	second := &state.Revision{ID: state.NewID(), Stack: "web", Commit: "2222222222222222222222222222222222222222",
		Objects: configMaps(10, func(i int) string { return map[bool]string{true: "2", false: "1"}[i == 3] })}
	for _, r := range []*state.Revision{first, second} {
		if err := s.PutRevision(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := countWhere(t, dsn, "objects", "true"); got != 11 {
		t.Errorf("object rows = %d, want 11 (10 + the 1 changed)", got)
	}
	if got := countWhere(t, dsn, "revision_objects", "true"); got != 20 {
		t.Errorf("revision_objects rows = %d, want 20", got)
	}

	got, err := s.Revision(ctx, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(second.Objects, got.Objects); diff != "" {
		t.Errorf("loaded objects (-stored +loaded)\n%s", diff)
	}
	if got.Commit != second.Commit || got.Stack != "web" || got.CreatedAt.IsZero() {
		t.Errorf("loaded header: %+v", got)
	}
}

func TestPutRevisionRetryIsIdempotent(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	ctx := context.Background()
	r := &state.Revision{ID: state.NewID(), Stack: "web", Commit: "1111111111111111111111111111111111111111",
		Digest: object.Hash{1}, Objects: configMaps(3, func(int) string { return "1" })}
	for range 2 {
		if err := s.PutRevision(ctx, r); err != nil {
			t.Fatalf("PutRevision (retry): %v", err)
		}
	}
	if got := countWhere(t, dsn, "revisions", "true"); got != 1 {
		t.Errorf("revisions = %d after a retried write, want 1", got)
	}
	other := *r
	other.Digest = object.Hash{2}
	if err := s.PutRevision(ctx, &other); err == nil {
		t.Error("reusing a revision id for other content succeeded")
	}
}

// TestPutRevisionSealsSecrets stores a Secret with and without
// GANTRY_SECRET_KEY: its values never reach a row in plaintext (nor base64);
// with the key they come back exactly, without it they cannot.
func TestPutRevisionSealsSecrets(t *testing.T) {
	t.Parallel()
	const canary = "canary-3f9a1c-state"
	secret := func() *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": "db", "namespace": "app"},
			"data":       map[string]any{"password": base64.StdEncoding.EncodeToString([]byte(canary))},
			"stringData": map[string]any{"token": canary},
		}}
	}
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, tc := range []struct {
		name string
		key  string
	}{{"with a key", key}, {"without a key", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := srv.NewDatabase(t)
			s, err := state.Open(context.Background(), state.Options{DatabaseURL: dsn, SecretKey: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rev := &state.Revision{ID: state.NewID(), Stack: "web", Objects: append(configMaps(1, func(int) string { return "1" }), secret())}
			if err := s.PutRevision(context.Background(), rev); err != nil {
				t.Fatal(err)
			}
			rows := dumpObjects(t, dsn)
			for _, leak := range []string{canary, base64.StdEncoding.EncodeToString([]byte(canary))} {
				if strings.Contains(rows, leak) {
					t.Errorf("a row holds %q", leak)
				}
			}
			got, err := s.Revision(context.Background(), rev.ID)
			if tc.key == "" {
				if !errors.Is(err, state.ErrSecretNotRecoverable) || !strings.Contains(err.Error(), "Secret/app/db") {
					t.Errorf("without a key: err = %v, want ErrSecretNotRecoverable naming the Secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(secret().Object, got.Objects[1].Object); diff != "" {
				t.Errorf("the Secret did not round-trip (-stored +loaded)\n%s", diff)
			}
			// A different key is refused, and says so.
			if _, err := state.Open(context.Background(), state.Options{DatabaseURL: dsn, SecretKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32))}); !errors.Is(err, state.ErrSecretKeyDiffers) {
				t.Errorf("with another key: err = %v", err)
			}
		})
	}
	if _, err := state.Open(context.Background(), state.Options{DatabaseURL: srv.NewDatabase(t), SecretKey: "too-short"}); err == nil || !strings.Contains(err.Error(), "openssl rand -base64 32") {
		t.Errorf("a malformed key: err = %v, want how to make one", err)
	}
}

func dumpObjects(t *testing.T, dsn string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), "SELECT convert_from(body, 'UTF8') FROM objects")
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(bodies, "\n")
}

// TestObjectRowsAreVerified shows the database itself refuses an object whose
// body does not match its content address.
func TestObjectRowsAreVerified(t *testing.T) {
	t.Parallel()
	_, dsn := openStore(t)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	body := []byte(`{"kind":"ConfigMap"}`)
	wrong := sha256.Sum256([]byte("something else"))
	_, err = conn.Exec(context.Background(), "INSERT INTO objects (hash, body) VALUES ($1, $2)", wrong[:], body)
	if err == nil {
		t.Fatal("inserted an object under the wrong hash")
	}
	right := sha256.Sum256(body)
	if _, err := conn.Exec(context.Background(), "INSERT INTO objects (hash, body) VALUES ($1, $2)", right[:], body); err != nil {
		t.Fatalf("inserting under the right hash: %v", err)
	}
}

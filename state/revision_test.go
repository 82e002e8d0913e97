package state_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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

func count(t *testing.T, dsn, table string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
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
	if got := count(t, dsn, "objects"); got != 11 {
		t.Errorf("object rows = %d, want 11 (10 + the 1 changed)", got)
	}
	if got := count(t, dsn, "revision_objects"); got != 20 {
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
	if got := count(t, dsn, "revisions"); got != 1 {
		t.Errorf("revisions = %d after a retried write, want 1", got)
	}
	other := *r
	other.Digest = object.Hash{2}
	if err := s.PutRevision(ctx, &other); err == nil {
		t.Error("reusing a revision id for other content succeeded")
	}
}

func TestPutRevisionRefusesPlaintextSecrets(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	objs := configMaps(2, func(int) string { return "1" })
	objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "db", "namespace": "app"},
		"data":     map[string]any{"password": "aHVudGVyMg=="},
	}})
	err := s.PutRevision(context.Background(), &state.Revision{ID: state.NewID(), Stack: "web", Objects: objs})
	if !errors.Is(err, state.ErrSecretNotSealed) {
		t.Fatalf("err = %v, want ErrSecretNotSealed", err)
	}
	if got := count(t, dsn, "objects"); got != 0 {
		t.Errorf("a refused revision left %d object rows: writes must be all or nothing", got)
	}
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

package state_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/migrations"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/state"
)

var (
	keyA = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa1}, 32))
	keyB = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xb2}, 32))
)

// keyRows returns the secret_key_check rows as "null" or "value".
func keyRows(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT CASE WHEN check_value IS NULL THEN 'null' ELSE 'value' END FROM secret_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// putSecretRevision stores a revision of stack web holding a Secret with
// value (a digest of its own, so that it is not taken for another) and
// returns it.
func putSecretRevision(t *testing.T, s *state.Store, value string) *state.Revision {
	t.Helper()
	rev := &state.Revision{ID: state.NewID(), Stack: "web", Commit: strings.Repeat("c", 40), Digest: object.Hash(sha256.Sum256([]byte(value))),
		Objects: []*unstructured.Unstructured{annotatedSecret(value)}}
	if err := s.PutRevision(context.Background(), rev); err != nil {
		t.Fatal(err)
	}
	return rev
}

// checkKeyRefusal: err is target, and its text names neither key.
func checkKeyRefusal(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
		return
	}
	for _, key := range []string{keyA, keyB} {
		if strings.Contains(err.Error(), key) {
			t.Errorf("%s: the error prints a key: %v", what, err)
		}
	}
}

// TestOpenChecksSecretKey: the first key used is recorded; a different key
// is refused by every kind of open, and so is no key, except for commands
// that need none (KeyOptional: they may read the record, and anything
// needing the key is refused) and reviews (read-only: they write nothing
// and fall back to the salt for the digests they neither record nor show).
// Before the check, every open succeeded and a gantry without the key
// stored new Secrets as hashes only.
func TestOpenChecksSecretKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	open := func(opts state.Options) (*state.Store, error) {
		opts.DatabaseURL = dsn
		s, err := state.Open(ctx, opts)
		if err == nil {
			t.Cleanup(s.Close)
		}
		return s, err
	}
	a, err := open(state.Options{SecretKey: keyA})
	if err != nil {
		t.Fatal(err)
	}
	if got := keyRows(t, dsn); !cmp.Equal(got, []string{"value"}) {
		t.Fatalf("after the first open with a key, secret_key_check = %v, want one value", got)
	}
	rev := putSecretRevision(t, a, "pin-7731")

	for _, tc := range []struct {
		name string
		opts state.Options
		want error
	}{
		{"another key", state.Options{SecretKey: keyB}, state.ErrSecretKeyDiffers},
		{"another key, key optional", state.Options{SecretKey: keyB, KeyOptional: true}, state.ErrSecretKeyDiffers},
		{"another key, read-only", state.Options{SecretKey: keyB, ReadOnly: true}, state.ErrSecretKeyDiffers},
		{"no key", state.Options{}, state.ErrSecretKeyMissing},
	} {
		_, err := open(tc.opts)
		checkKeyRefusal(t, tc.name, err, tc.want)
	}

	// Without the key, a command that needs none reads the record, and
	// nothing that seals or keys a hash goes through.
	optional, err := open(state.Options{KeyOptional: true})
	if err != nil {
		t.Fatalf("no key, key optional: %v", err)
	}
	if sealed, err := optional.SealedRevision(ctx, rev.ID); err != nil || len(sealed.Objects) != 1 {
		t.Errorf("SealedRevision without the key: %v", err)
	}
	_, err = optional.EnsureStack(ctx, "web")
	checkKeyRefusal(t, "EnsureStack without the key", err, state.ErrSecretKeyMissing)
	_, err = optional.ReadStack(ctx, "web")
	checkKeyRefusal(t, "ReadStack without the key", err, state.ErrSecretKeyMissing)
	err = optional.PutRevision(ctx, &state.Revision{ID: state.NewID(), Stack: "web", Objects: []*unstructured.Unstructured{annotatedSecret("pin-0001")}})
	checkKeyRefusal(t, "PutRevision without the key", err, state.ErrSecretKeyMissing)

	// A review needs no key.
	review, err := open(state.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("no key, read-only: %v", err)
	}
	if st, err := review.ReadStack(ctx, "web"); err != nil || !bytes.Equal(st.HashKey, st.Salt) {
		t.Errorf("ReadStack of a review without the key = %+v, %v; want the salt as its hash key", st, err)
	}

	// The right key reads everything back.
	again, err := open(state.Options{SecretKey: keyA})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := again.Revision(ctx, rev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rev.Objects[0].Object, loaded.Objects[0].Object); diff != "" {
		t.Errorf("the Secret read back (-stored +loaded)\n%s", diff)
	}
}

// TestOpenRecordsKeyOnlyForWriters: a review (read-only) started with a
// key records nothing; a gantry without a key on a database never keyed
// goes on as before; the first writer with a key records it.
func TestOpenRecordsKeyOnlyForWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	migrated, err := state.Open(ctx, state.Options{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	migrated.Close()
	for _, opts := range []state.Options{{SecretKey: keyA, ReadOnly: true}, {}} {
		opts.DatabaseURL = dsn
		s, err := state.Open(ctx, opts)
		if err != nil {
			t.Fatalf("open %+v: %v", opts, err)
		}
		s.Close()
		if got := keyRows(t, dsn); len(got) != 0 {
			t.Fatalf("open (read-only %v, key %v) recorded a key: %v", opts.ReadOnly, opts.SecretKey != "", got)
		}
	}
	reader := srv.ReadOnlyRole(t, dsn, migrations.VersionTable, "stacks")
	s, err := state.Open(ctx, state.Options{DatabaseURL: reader, SecretKey: keyA, ReadOnly: true})
	if err != nil {
		t.Fatalf("a review whose role may not read secret_key_check: %v", err)
	}
	s.Close()
	s, err = state.Open(ctx, state.Options{DatabaseURL: dsn, SecretKey: keyB, KeyOptional: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := keyRows(t, dsn); !cmp.Equal(got, []string{"value"}) {
		t.Fatalf("after a writer with a key: %v", got)
	}
	if s, err = state.Open(ctx, state.Options{DatabaseURL: reader, SecretKey: keyA, ReadOnly: true}); err != nil {
		t.Fatalf("a review whose role may not read secret_key_check, once a key is recorded: %v", err)
	}
	s.Close()
}

// TestOpenChecksKeyOfOlderDatabase: a database an older gantry sealed with
// a key (no check value recorded) is marked so by migration 006; a gantry
// without the key is refused, one with another key too (checked against a
// sealed value), and the right key is recorded. A database an older gantry
// used without a key is not marked.
func TestOpenChecksKeyOfOlderDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// As an older gantry left it: schema 005, no key check.
	older := func(key string) string {
		dsn := srv.NewDatabase(t)
		s, err := state.Open(ctx, state.Options{DatabaseURL: dsn, SecretKey: key})
		if err != nil {
			t.Fatal(err)
		}
		putSecretRevision(t, s, "pin-4242")
		s.Close()
		execSQL(t, dsn, `DROP TABLE notification_deliveries, notification_outbox`) // 007's
		execSQL(t, dsn, `DROP TRIGGER audit_events_outbox ON audit_events`)
		execSQL(t, dsn, `DROP FUNCTION gantry_notification_outbox()`)
		execSQL(t, dsn, `DROP TABLE secret_key_check`)
		execSQL(t, dsn, `UPDATE `+migrations.VersionTable+` SET version = 5`)
		return dsn
	}

	keyed := older(keyA)
	_, err := state.Open(ctx, state.Options{DatabaseURL: keyed})
	checkKeyRefusal(t, "no key on an older keyed database", err, state.ErrSecretKeyMissing)
	if got := keyRows(t, keyed); !cmp.Equal(got, []string{"null"}) {
		t.Fatalf("migration 006 on a keyed database: secret_key_check = %v, want one row without a value", got)
	}
	_, err = state.Open(ctx, state.Options{DatabaseURL: keyed, SecretKey: keyB})
	checkKeyRefusal(t, "another key on an older keyed database", err, state.ErrSecretKeyDiffers)
	if got := keyRows(t, keyed); !cmp.Equal(got, []string{"null"}) {
		t.Fatalf("a refused key was recorded: %v", got)
	}
	s, err := state.Open(ctx, state.Options{DatabaseURL: keyed, SecretKey: keyA})
	if err != nil {
		t.Fatalf("the right key on an older keyed database: %v", err)
	}
	s.Close()
	if got := keyRows(t, keyed); !cmp.Equal(got, []string{"value"}) {
		t.Fatalf("the right key was not recorded: %v", got)
	}
	_, err = state.Open(ctx, state.Options{DatabaseURL: keyed, SecretKey: keyB})
	checkKeyRefusal(t, "another key once recorded", err, state.ErrSecretKeyDiffers)

	keyless := older("")
	s, err = state.Open(ctx, state.Options{DatabaseURL: keyless})
	if err != nil {
		t.Fatalf("no key on an older database without one: %v", err)
	}
	s.Close()
	if got := keyRows(t, keyless); len(got) != 0 {
		t.Errorf("migration 006 marked a database without a key: %v", got)
	}
}

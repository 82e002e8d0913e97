package state_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/migrations"
	"github.com/gantryops/gantry/state"
)

// TestOpenReadOnly: with a real role that may only SELECT, a read-only open
// reads the record; through a read-only store every write is refused by the
// server (or, for locks, by the store), whatever the role may do. The
// schema is checked, never migrated: none yet, older or newer than this
// gantry's migrations is a clear error (and the version stays where it
// was), and a role that cannot read the version table is told what to
// grant.
func TestOpenReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	latest, err := migrations.Latest()
	if err != nil {
		t.Fatal(err)
	}

	// Nothing migrated yet: version 0.
	_, err = state.Open(ctx, state.Options{DatabaseURL: dsn, ReadOnly: true})
	if !errors.Is(err, migrations.ErrSchemaBehind) || !strings.Contains(err.Error(), "at version 0") || !strings.Contains(err.Error(), "gantry db migrate") {
		t.Fatalf("read-only open of an empty database: %v, want ErrSchemaBehind saying version 0 and what to run", err)
	}
	if n := dbValue[int](t, dsn, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); n != 0 {
		t.Fatalf("a read-only open created %d tables", n)
	}

	writer, err := state.Open(ctx, state.Options{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.EnsureStack(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	writer.Close()
	readerDSN := srv.ReadOnlyRole(t, dsn)

	ro, err := state.Open(ctx, state.Options{DatabaseURL: readerDSN, ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open with a SELECT-only role: %v", err)
	}
	defer ro.Close()
	if st, err := ro.ReadStack(ctx, "shop"); err != nil || len(st.Salt) != 32 {
		t.Errorf("ReadStack: %v, %v", st, err)
	}
	if _, _, err := ro.Inventory(ctx, "shop"); err != nil {
		t.Errorf("Inventory: %v", err)
	}
	if _, err := ro.Memo(ctx, "shop"); err != nil {
		t.Errorf("Memo: %v", err)
	}
	if _, err := ro.HoldOf(ctx, "shop"); err != nil {
		t.Errorf("HoldOf: %v", err)
	}
	if _, err := ro.LiveCommit(ctx, "shop"); err != nil {
		t.Errorf("LiveCommit: %v", err)
	}
	if _, err := ro.Lock(ctx, "shop", "review", "", 0); !errors.Is(err, state.ErrReadOnly) {
		t.Errorf("Lock on a read-only store: %v, want ErrReadOnly", err)
	}

	// Even a role that may write cannot through a read-only store.
	rw, err := state.Open(ctx, state.Options{DatabaseURL: dsn, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if _, err := rw.CreateStack(ctx, "new", make([]byte, 32)); err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("CreateStack through a read-only store: %v, want the server's refusal", err)
	}
	if err := rw.Audit(ctx, state.AuditEvent{Stack: "shop", Actor: "t", Data: event.PlanCreatedData{Digest: "d"}}); err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("Audit through a read-only store: %v, want the server's refusal", err)
	}
	if n := dbValue[int](t, dsn, `SELECT count(*) FROM stacks`); n != 1 {
		t.Errorf("%d stacks on record, want 1", n)
	}

	for _, tc := range []struct {
		version int32
		want    error
		says    []string
	}{
		{latest - 1, migrations.ErrSchemaBehind, []string{"is at version " + itoa(latest-1), "needs version " + itoa(latest), "gantry db migrate", "may write"}},
		{latest + 1, migrations.ErrSchemaAhead, []string{"is at version " + itoa(latest+1), "upgrade gantry"}},
	} {
		execSQL(t, dsn, `UPDATE `+migrations.VersionTable+` SET version = $1`, tc.version)
		// The role that may only read, and one that may write: neither
		// migrates through a read-only open.
		for _, who := range []string{readerDSN, dsn} {
			_, err := state.Open(ctx, state.Options{DatabaseURL: who, ReadOnly: true})
			if !errors.Is(err, tc.want) {
				t.Errorf("schema at %d: %v, want %v", tc.version, err, tc.want)
				continue
			}
			for _, w := range tc.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("schema at %d: %q does not say %q", tc.version, err, w)
				}
			}
			if v := dbValue[int32](t, dsn, `SELECT version FROM `+migrations.VersionTable); v != tc.version {
				t.Errorf("a read-only open moved the schema from version %d to %d", tc.version, v)
			}
		}
	}
	execSQL(t, dsn, `UPDATE `+migrations.VersionTable+` SET version = $1`, latest)

	execSQL(t, dsn, `REVOKE SELECT ON `+migrations.VersionTable+` FROM `+pgx.Identifier{userOf(t, readerDSN)}.Sanitize())
	if _, err := state.Open(ctx, state.Options{DatabaseURL: readerDSN, ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "grant it SELECT") {
		t.Errorf("a role that may not read the version table: %v, want what to grant", err)
	}
}

func itoa(v int32) string { return strconv.Itoa(int(v)) }

func execSQL(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func dbValue[T any](t *testing.T, dsn, sql string) T {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v T
	if err := conn.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func userOf(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.User
}

// TestOpenReadOnlyThroughPgBouncer: a transaction-mode PgBouncer refuses
// the startup parameter that makes sessions read-only. A read-only open
// then relies on the role's or database's own default: it refuses when
// sessions would accept writes (saying what to set), and works when they
// would not, the server still refusing writes.
func TestOpenReadOnlyThroughPgBouncer(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		t.Fatalf("pgbouncer is not installed (make test installs it: apt-get install pgbouncer): %v", err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		readOnlyDB  bool
		wantRefused bool
	}{
		{name: "sessions writable by default", wantRefused: true},
		{name: "database read-only by default", readOnlyDB: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := srv.NewDatabase(t)
			w, err := state.Open(ctx, state.Options{DatabaseURL: dsn})
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			db := regexp.MustCompile(`dbname=(\S+)`).FindStringSubmatch(dsn)[1]
			if tc.readOnlyDB {
				execSQL(t, dsn, "ALTER DATABASE "+strings.Trim(db, "'")+" SET default_transaction_read_only = on")
			}
			port := startPgBouncer(t, bin, "transaction", regexp.MustCompile(`host=(\S+)`).FindStringSubmatch(dsn)[1], db)
			url := fmt.Sprintf("host=127.0.0.1 port=%d dbname=gantrydb user=gantry sslmode=disable default_query_exec_mode=simple_protocol", port)
			s, err := state.Open(ctx, state.Options{DatabaseURL: url, ReadOnly: true})
			if tc.wantRefused {
				if !errors.Is(err, state.ErrReadOnly) || !strings.Contains(err.Error(), "ALTER ROLE") {
					t.Fatalf("read-only open through PgBouncer, sessions writable: %v, want ErrReadOnly saying what to set", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("read-only open through PgBouncer: %v", err)
			}
			defer s.Close()
			if _, err := s.ReadStack(ctx, "shop"); err != nil {
				t.Errorf("ReadStack: %v", err)
			}
			if _, err := s.CreateStack(ctx, "shop", make([]byte, 32)); err == nil || !strings.Contains(err.Error(), "read-only transaction") {
				t.Errorf("CreateStack through PgBouncer: %v, want the server's refusal", err)
			}
		})
	}
}

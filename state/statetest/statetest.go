// Package statetest runs one embedded Postgres server per test binary and
// hands each test a fresh database on it, so tests run against real Postgres
// without paying a server start (~2 s) each. Start it in TestMain; a server
// that cannot start fails the test binary, it never skips.
package statetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/state"
	"github.com/gantryops/gantry/state/pgembed"
)

// Server is an embedded Postgres server in a temporary directory.
type Server struct {
	*pgembed.Server
	dir string
}

// Start initialises and starts a server in a new temporary directory, with
// durability off (fast, and the data is thrown away anyway).
func Start(ctx context.Context) (*Server, error) {
	dir, err := os.MkdirTemp("", "gantry-pg-")
	if err != nil {
		return nil, err
	}
	opts := pgembed.DefaultOptions()
	opts.Dir, opts.Fast, opts.Attached, opts.Database = dir, true, true, "postgres"
	e, err := pgembed.New(opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if _, err := e.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Server{Server: e, dir: dir}, nil
}

// Stop stops the server by its process id and removes its directory.
func (s *Server) Stop() error {
	err := s.Server.Stop(context.Background())
	if rmErr := os.RemoveAll(s.dir); err == nil {
		err = rmErr
	}
	return err
}

// NewDatabase creates an empty database for t, dropped when t ends, and
// returns its connection string.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	name := "t_" + strings.ReplaceAll(state.NewID(), "-", "")[:16]
	admin, err := pgx.Connect(ctx, s.ConnString("postgres"))
	if err != nil {
		t.Fatalf("statetest: connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("statetest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, s.ConnString("postgres"))
		if err != nil {
			t.Errorf("statetest: connect: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("statetest: drop database %s: %v", name, err)
		}
	})
	return s.ConnString(name)
}

// ReadOnlyRole creates a role that may log in to the database of dsn and
// read tables there, and nothing else — CONNECT on the database, USAGE on
// schema public, SELECT on tables (none given: on every table, also those
// later migrations create), default_transaction_read_only — as
// docs/review.md has for gantry review, and
// returns dsn for that role. The role is dropped when t ends.
func (s *Server) ReadOnlyRole(t testing.TB, dsn string, tables ...string) string {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("statetest: %v", err)
	}
	role := pgx.Identifier{"ro_" + strings.ReplaceAll(state.NewID(), "-", "")[:16]}.Sanitize()
	db := pgx.Identifier{cfg.Database}.Sanitize()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("statetest: connect: %v", err)
	}
	defer admin.Close(ctx)
	grants := []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT CONNECT ON DATABASE " + db + " TO " + role,
		"GRANT USAGE ON SCHEMA public TO " + role,
		"ALTER ROLE " + role + " SET default_transaction_read_only = on",
	}
	if len(tables) == 0 {
		grants = append(grants, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+role,
			"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "+role)
	}
	for _, table := range tables {
		grants = append(grants, "GRANT SELECT ON "+pgx.Identifier{table}.Sanitize()+" TO "+role)
	}
	for _, sql := range grants {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("statetest: %s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("statetest: connect: %v", err)
			return
		}
		defer c.Close(ctx)
		// Privileges in the database depend on the role: drop them first.
		for _, sql := range []string{"DROP OWNED BY " + role, "REVOKE CONNECT ON DATABASE " + db + " FROM " + role, "DROP ROLE " + role} {
			if _, err := c.Exec(ctx, sql); err != nil {
				t.Errorf("statetest: %s: %v", sql, err)
			}
		}
	})
	return dsn + " user=" + strings.Trim(role, `"`)
}

// Main starts a server, runs the tests, and stops it: use it as
// `func TestMain(m *testing.M) { os.Exit(statetest.Main(m, &srv)) }`.
func Main(m *testing.M, srv **Server) int {
	s, err := Start(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests need Postgres and the embedded server did not start:\n%v\n", err)
		return 1
	}
	*srv = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop embedded postgres:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// TempDir returns a new searchable directory directly under the system
// temp directory, removed when the test ends: t.TempDir nests inside a
// root-only directory that the unprivileged Postgres user could not enter
// when tests run as root.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gantry-embedded-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

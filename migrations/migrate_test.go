package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/migrations"
	"github.com/gantryops/gantry/state/statetest"
)

var srv *statetest.Server

func TestMain(m *testing.M) {
	// A child process started by TestMigrateConcurrentProcesses migrates and exits.
	if dsn := os.Getenv("GANTRY_TEST_MIGRATE_DSN"); dsn != "" {
		os.Exit(migrateChild(dsn))
	}
	os.Exit(statetest.Main(m, &srv))
}

func migrateChild(dsn string) int {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer conn.Close(ctx)
	from, to, err := migrations.Migrate(ctx, conn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%d->%d\n", from, to)
	return 0
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func tables(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

var wantTables = "applies apply_outcomes audit_events gantry_schema_version inventory_objects notification_deliveries notification_outbox objects plan_gates plan_memo plans revision_objects revisions secret_key_check stack_locks stacks"

func TestMigrateTwiceIsIdempotent(t *testing.T) {
	t.Parallel()
	conn := connect(t, srv.NewDatabase(t))
	latest, err := migrations.Latest()
	if err != nil || latest < 1 {
		t.Fatalf("Latest() = %d, %v", latest, err)
	}
	from, to, err := migrations.Migrate(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if from != 0 || to != latest {
		t.Errorf("first Migrate: %d -> %d, want 0 -> %d", from, to, latest)
	}
	from, to, err = migrations.Migrate(context.Background(), conn)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if from != latest || to != latest {
		t.Errorf("second Migrate: %d -> %d, want %d -> %d", from, to, latest, latest)
	}
	if got := strings.Join(tables(t, conn), " "); got != wantTables {
		t.Errorf("tables = %q, want %q", got, wantTables)
	}
}

func TestMigrateConcurrentProcesses(t *testing.T) {
	t.Parallel()
	dsn := srv.NewDatabase(t)
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "GANTRY_TEST_MIGRATE_DSN="+dsn)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = strings.TrimSpace(string(out)), err
		})
	}
	wg.Wait()
	latest, _ := migrations.Latest()
	migrated := 0
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
		switch outs[i] {
		case fmt.Sprintf("0->%d", latest):
			migrated++
		case fmt.Sprintf("%d->%d", latest, latest):
		default:
			t.Errorf("process %d printed %q", i, outs[i])
		}
	}
	// tern's advisory lock lets exactly one process apply the migrations.
	if migrated != 1 {
		t.Errorf("%d processes applied migrations, want exactly 1: %q", migrated, outs)
	}
	conn := connect(t, dsn)
	var version, rows int32
	if err := conn.QueryRow(context.Background(), "SELECT max(version), count(*) FROM "+migrations.VersionTable).Scan(&version, &rows); err != nil {
		t.Fatal(err)
	}
	if version != latest || rows != 1 {
		t.Errorf("version table: version %d in %d rows, want %d in 1", version, rows, latest)
	}
	if got := strings.Join(tables(t, conn), " "); got != wantTables {
		t.Errorf("tables = %q, want %q", got, wantTables)
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	conn := connect(t, srv.NewDatabase(t))
	ctx := context.Background()
	if _, _, err := migrations.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE "+migrations.VersionTable+" SET version = 999"); err != nil {
		t.Fatal(err)
	}
	_, _, err := migrations.Migrate(ctx, conn)
	if err == nil || !strings.Contains(err.Error(), "version 999") || !strings.Contains(err.Error(), "upgrade gantry") {
		t.Errorf("Migrate on a newer schema: err = %v, want a refusal naming the version", err)
	}
}

func TestCompatible(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		current, latest int32
		want            error
	}{
		{5, 5, nil},
		{0, 5, migrations.ErrSchemaBehind}, // nothing migrated yet
		{4, 5, migrations.ErrSchemaBehind},
		{6, 5, migrations.ErrSchemaAhead},
		{99, 5, migrations.ErrSchemaAhead},
	} {
		err := migrations.Compatible(tc.current, tc.latest)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("Compatible(%d, %d) = %v, want %v", tc.current, tc.latest, err, tc.want)
		}
	}
}

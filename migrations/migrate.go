package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed *.up.sql
var files embed.FS

// VersionTable records the schema version in the connection's schema.
const VersionTable = "gantry_schema_version"

// Latest returns the number of the newest migration this binary carries.
func Latest() (int32, error) {
	names, err := migrate.FindMigrations(files)
	if err != nil {
		return 0, err
	}
	return int32(len(names)), nil
}

// Migrate brings the database conn is connected to up to the newest schema
// and returns the versions before and after this call's own changes. tern
// holds a Postgres advisory lock for the whole run, so concurrent callers
// (several gantry processes starting at once) migrate once; the others wait,
// then find nothing to do and report from == to.
func Migrate(ctx context.Context, conn *pgx.Conn) (from, to int32, err error) {
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: prepare %s: %w", VersionTable, err)
	}
	if err := m.LoadMigrations(files); err != nil {
		return 0, 0, fmt.Errorf("migrate: load embedded migrations: %w", err)
	}
	current, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: read schema version: %w", err)
	}
	latest := int32(len(m.Migrations))
	if current > latest {
		return current, current, fmt.Errorf("migrate: %w", Compatible(current, latest))
	}
	// The version read above may be stale by the time tern holds its lock;
	// count what this call really runs instead.
	var ran int32
	m.OnStart = func(int32, string, string, string) { ran++ }
	if err := m.Migrate(ctx); err != nil {
		return current, 0, fmt.Errorf("migrate: from version %d: %w", current, err)
	}
	to, err = m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: read schema version: %w", err)
	}
	return to - ran, to, nil
}

// ErrSchemaBehind and ErrSchemaAhead say that a database's schema is not
// the one this gantry uses, for a caller that may not migrate it.
var (
	ErrSchemaBehind = errors.New("the database schema is older than this gantry")
	ErrSchemaAhead  = errors.New("the database schema is newer than this gantry")
)

// Compatible decides whether a database whose schema is at version current
// can be read by a gantry whose newest migration is latest, without
// migrating it: only at exactly latest. Older needs a migration by a role
// that may write (any command that writes runs it, or `gantry db migrate`);
// newer needs a newer gantry.
func Compatible(current, latest int32) error {
	switch {
	case current < latest:
		return fmt.Errorf("%w: it is at version %d and this gantry needs version %d: run `gantry db migrate` (or any command that writes, such as gantry run) with a database role that may write, then try again", ErrSchemaBehind, current, latest)
	case current > latest:
		return fmt.Errorf("%w: it is at version %d but this gantry knows only up to %d: a newer gantry has used this database; upgrade gantry (never downgrade a shared database)", ErrSchemaAhead, current, latest)
	}
	return nil
}

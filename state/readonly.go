package state

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gantryops/gantry/migrations"
)

// ErrReadOnly is returned (wrapped) by writes that do not go through the
// read-only sessions of a store opened with Options.ReadOnly (which the
// server refuses itself).
var ErrReadOnly = errors.New("the database was opened read-only")

// ReadOnly reports whether the store was opened read-only.
func (s *Store) ReadOnly() bool { return s.readOnly }

// openReadOnly opens a pool of read-only sessions and checks that the
// schema is the one this gantry reads. It takes no lock and needs no
// session to persist, so a transaction-mode pooler is fine.
func (s *Store) openReadOnly(ctx context.Context) error {
	// Ask for read-only sessions when connecting: the server then refuses
	// every write, whatever the role may do, so a review cannot change the
	// record even through a bug.
	err := s.readOnlyPool(ctx, true)
	if unsupportedStartupParameter(err) {
		// PgBouncer refuses startup parameters it does not know. Then the
		// sessions are read-only only by the role's or database's own
		// default, which must be set.
		s.log.Debug("the pooler refuses default_transaction_read_only at startup: checking the role's default")
		if err = s.readOnlyPool(ctx, false); err == nil {
			err = s.checkSessionReadOnly(ctx)
		}
	}
	if err != nil {
		if s.pool != nil {
			s.pool.Close()
		}
		return err
	}
	if err := s.checkSchema(ctx); err != nil {
		s.pool.Close()
		return err
	}
	return nil
}

// readOnlyPool opens the pool (its sessions set default_transaction_read_only
// at startup with param) and connects once.
func (s *Store) readOnlyPool(ctx context.Context, param bool) error {
	cfg, err := pgxpool.ParseConfig(s.connString)
	if err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	if param {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("connect to %s: %w", s.where, err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		s.pool = nil
		return fmt.Errorf("connect to %s: %w: check --database-url / GANTRY_DATABASE_URL and that the server is up", s.where, err)
	}
	return nil
}

// unsupportedStartupParameter reports whether err is a pooler's refusal of
// a startup parameter (PgBouncer: "unsupported startup parameter").
func unsupportedStartupParameter(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "08P01" && strings.Contains(pgErr.Message, "unsupported startup parameter")
}

// checkSessionReadOnly refuses sessions that would accept writes.
func (s *Store) checkSessionReadOnly(ctx context.Context) error {
	var on string
	if err := s.pool.QueryRow(ctx, "SHOW default_transaction_read_only").Scan(&on); err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	if on != "on" {
		return fmt.Errorf("%s: %w: the pooler refuses the startup parameter default_transaction_read_only and the role's sessions are not read-only by default: run ALTER ROLE <role> SET default_transaction_read_only = on (docs/review.md), or connect without the pooler", s.where, ErrReadOnly)
	}
	return nil
}

// checkSchema compares the database's schema version (tern's version
// table; none yet is version 0) with this binary's migrations.
func (s *Store) checkSchema(ctx context.Context) error {
	current, err := s.SchemaVersion(ctx)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		current = 0 // nothing was ever migrated here
	case errors.As(err, &pgErr) && pgErr.Code == "42501": // insufficient_privilege
		return fmt.Errorf("%s: the database role may not read %s: grant it SELECT on gantry's tables (docs/review.md has the SQL): %w", s.where, migrations.VersionTable, err)
	case err != nil:
		return fmt.Errorf("connect to %s: %w: check --database-url / GANTRY_DATABASE_URL and that the server is up", s.where, err)
	}
	latest, err := migrations.Latest()
	if err != nil {
		return err
	}
	if err := migrations.Compatible(current, latest); err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	return nil
}

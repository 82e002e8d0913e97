package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/state"
	"github.com/gantryops/gantry/state/pgembed"
)

func newDBCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage gantry's Postgres database (the embedded one by default)",
		Long: `gantry records plans, revisions and the audit log in Postgres. With no
--database-url (or GANTRY_DATABASE_URL) it runs a private embedded Postgres in
$XDG_STATE_HOME/gantry/postgres (or GANTRY_POSTGRES_DIR), on a unix socket only.
The embedded server starts on first use and keeps running for later commands;
"gantry db stop" stops it.`,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "start",
			Short: "Start the embedded database if needed and bring its schema up to date",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return g.migrate(cmd, true) },
		},
		&cobra.Command{
			Use:   "migrate",
			Short: "Bring the database's schema up to date (needs a role that may write)",
			Long: `migrate brings the schema of the database (--database-url, or the embedded one)
up to this gantry's version. Every command that writes does so at start;
gantry review never does (it opens the database read-only and refuses a schema
older than its own), so run this, or any writing command, after an upgrade.`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return g.migrate(cmd, false) },
		},
		newRotateKeyCommand(g),
		&cobra.Command{
			Use:   "status",
			Short: "Show whether the embedded database is running, without starting it",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return g.dbStatus(cmd) },
		},
		&cobra.Command{
			Use:   "stop",
			Short: "Stop the embedded database server",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return g.dbStop(cmd) },
		},
	)
	return cmd
}

// dbStatus says where the database is, and whether the embedded one runs.
func (g *globals) dbStatus(cmd *cobra.Command) error {
	if url := g.dbURL(); url != "" {
		fmt.Fprintf(g.stdout, "Database: %s (external; gantry does not manage it)\n", state.RedactURL(url))
		return nil
	}
	e, err := g.embeddedDB()
	if err != nil {
		return err
	}
	if e.Running(cmd.Context()) {
		fmt.Fprintf(g.stdout, "Embedded Postgres in %s: running (pid %d)\n", e.Dir(), e.Pid())
	} else {
		fmt.Fprintf(g.stdout, "Embedded Postgres in %s: stopped\n", e.Dir())
	}
	return nil
}

// dbStop stops the embedded database, if it runs.
func (g *globals) dbStop(cmd *cobra.Command) error {
	e, err := g.embeddedDB()
	if err != nil {
		return err
	}
	pid := e.Pid()
	if !e.Running(cmd.Context()) {
		fmt.Fprintf(g.stdout, "Embedded Postgres in %s is not running.\n", e.Dir())
		return nil
	}
	if err := e.Stop(cmd.Context()); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Stopped embedded Postgres in %s (pid %d).\n", e.Dir(), pid)
	return nil
}

// embeddedDB returns the embedded cluster gantry uses when no database URL is
// configured, and an error when one is (there is nothing embedded to manage).
func (g *globals) embeddedDB() (*pgembed.Server, error) {
	if g.dbURL() != "" {
		return nil, errors.New("gantry is configured with an external database (--database-url / GANTRY_DATABASE_URL): there is no embedded server to manage")
	}
	return pgembed.New(pgembed.DefaultOptions())
}

// migrate opens the database (starting the embedded one if needed), which
// brings its schema up to date, and says where it is and at which schema
// version; withServer adds the Postgres version and the embedded server's
// pid (gantry db start).
func (g *globals) migrate(cmd *cobra.Command, withServer bool) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	s, err := g.openStore(cmd.Context(), log, sessionOptions{keyOptional: true})
	if err != nil {
		return err
	}
	defer s.Close()
	schema, err := s.SchemaVersion(cmd.Context())
	if err != nil {
		return err
	}
	if !withServer {
		fmt.Fprintf(g.stdout, "Database: %s\nSchema version: %d\n", s.Where(), schema)
		return nil
	}
	server, err := s.ServerVersion(cmd.Context())
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Database: %s\nPostgres: %s\nSchema version: %d\n", s.Where(), server, schema)
	if e := s.Embedded(); e != nil {
		fmt.Fprintf(g.stdout, "Server pid: %d (stop it with: gantry db stop)\n", e.Pid())
	}
	return nil
}

func newRotateKeyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-key",
		Short: "Seal the database's Secrets with a new GANTRY_SECRET_KEY",
		Long: `rotate-key seals every Secret stored with GANTRY_SECRET_KEY again with the key
in GANTRY_NEW_SECRET_KEY (32 random bytes, base64: openssl rand -base64 32),
in one transaction, and records the new key as the database's. Both keys are
read from the environment only, never from flags.

Stop gantry run first: rotate-key holds every stack's apply lock and refuses
while an apply runs, and a gantry still running with the old key is refused
at its next write. Digests are keyed with the key too: plans waiting at the
gate are marked stale (gantry run plans them again), the no-op memo is
cleared, plans recorded before cannot be applied by ID and planfiles written
before are refused (plan again). Afterwards set GANTRY_SECRET_KEY to the new
key everywhere gantry runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			newKey := os.Getenv("GANTRY_NEW_SECRET_KEY")
			if newKey == "" {
				return errors.New("set GANTRY_NEW_SECRET_KEY to the new key (openssl rand -base64 32) and GANTRY_SECRET_KEY to the current one")
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			s, err := g.openStore(cmd.Context(), log, sessionOptions{})
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.RotateKey(cmd.Context(), newKey, g.actorName())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Sealed %d stored Secret(s) with the new key; %d plan(s) waiting at the gate marked stale; %d no-op memo entries dropped.\n", res.Secrets, res.Plans, res.MemoEntries)
			fmt.Fprintln(g.stdout, "Set GANTRY_SECRET_KEY to the new key wherever gantry runs (gantry run, CI, people), then start gantry run again.")
			return nil
		},
	}
}

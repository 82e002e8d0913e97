package state

import (
	"context"
	"fmt"
	"net/url"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gantryops/gantry/migrations"
	"github.com/gantryops/gantry/state/pgembed"
	"github.com/gantryops/gantry/state/seal"
)

// Options configures Open.
type Options struct {
	// DatabaseURL is a Postgres connection string (URL or key=value). Empty:
	// use the embedded cluster described by Embedded.
	DatabaseURL string
	// Embedded configures the embedded cluster used when DatabaseURL is empty.
	Embedded pgembed.Options
	// SecretKey (GANTRY_SECRET_KEY: 32 bytes, base64) encrypts Secret values
	// stored in revisions. Empty: only salted hashes of them are stored, and
	// their values cannot be read back.
	SecretKey string
	// Logger receives lines about connecting and migrating; nil discards them.
	Logger hclog.Logger
	// KeyOptional lets a command that seals, unseals and keys nothing
	// (history, show, diff, plans, approve, gc, resume, force-unlock, db
	// migrate) open a database sealed with GANTRY_SECRET_KEY without the
	// key; the store then refuses whatever would need it
	// (ErrSecretKeyMissing). Without it, such an open is refused. A key that
	// is not the database's is refused either way (ErrSecretKeyDiffers).
	KeyOptional bool
	// ReadOnly opens the database for reading only, as reviews do: the
	// schema is checked, never migrated (migrations.Compatible), and every
	// session is read-only (default_transaction_read_only), so a role that
	// may only SELECT suffices and nothing can be written, by mistake
	// either.
	ReadOnly bool
}

// DefaultOptions returns options for the embedded default.
func DefaultOptions() Options {
	return Options{Embedded: pgembed.DefaultOptions()}
}

// Store is gantry's Postgres state. It is safe for concurrent use.
type Store struct {
	pool       *pgxpool.Pool
	connString string          // for the dedicated connections locks need
	embedded   *pgembed.Server // nil for an external database
	where      string
	sealer     *seal.Sealer
	log        hclog.Logger
	readOnly   bool
	// keyMissing: the database is sealed with GANTRY_SECRET_KEY and this
	// store has no key (Options.KeyOptional, or read-only).
	keyMissing bool
}

// Open connects to the database (starting the embedded cluster when no URL
// is given), brings its schema up to date (with ReadOnly: checks it),
// checks GANTRY_SECRET_KEY against the key the database was sealed with
// (recording the first one used) and returns the store.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s, err := connect(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := s.checkKey(ctx, opts.KeyOptional); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// connect connects and migrates (or checks the schema).
func connect(ctx context.Context, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	seal, err := seal.New(opts.SecretKey)
	if err != nil {
		return nil, err
	}
	s := &Store{log: log.Named("state"), sealer: seal}
	connString := opts.DatabaseURL
	if connString == "" {
		if opts.Embedded.Logger == nil {
			opts.Embedded.Logger = log
		}
		e, err := pgembed.New(opts.Embedded)
		if err != nil {
			return nil, err
		}
		if connString, err = e.Start(ctx); err != nil {
			return nil, err
		}
		s.embedded = e
		s.where = "embedded Postgres in " + e.Dir()
	} else {
		s.where = RedactURL(connString)
	}

	s.connString, s.readOnly = connString, opts.ReadOnly
	if opts.ReadOnly {
		if err := s.openReadOnly(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}
	// Locks and migrations need sessions that stay with their connection.
	if opts.DatabaseURL != "" {
		if err := checkPooler(ctx, connString); err != nil {
			return nil, fmt.Errorf("%s: %w", s.where, err)
		}
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where, err)
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s.where, err)
	}
	return s, nil
}

// migrate brings the schema up to date on a dedicated connection: tern's
// advisory lock is held by a session, which a pool could hand to another
// caller halfway through.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.connString)
	if err != nil {
		return fmt.Errorf("connect to %s: %w: check --database-url / GANTRY_DATABASE_URL and that the server is up", s.where, err)
	}
	from, to, err := migrations.Migrate(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	if from != to {
		s.log.Info("migrated database schema", "from", from, "to", to)
	}
	return nil
}

// Close releases the store's connections. An embedded server keeps running
// for the next command; stop it with Embedded.Stop (`gantry db stop`).
func (s *Store) Close() { s.pool.Close() }

// Where describes the database for humans, without credentials.
func (s *Store) Where() string { return s.where }

// Coordinates returns what names the database in error texts: the
// server's host (or socket directory), the user and the database name.
// Text for the public (a pull-request comment) leaves them out.
func (s *Store) Coordinates() (host, user, database string) {
	c := s.pool.Config().ConnConfig
	return c.Host, c.User, c.Database
}

// Embedded returns the embedded cluster, or nil for an external database.
func (s *Store) Embedded() *pgembed.Server { return s.embedded }

// SchemaVersion returns the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int32, error) {
	var v int32
	err := s.pool.QueryRow(ctx, "SELECT version FROM "+migrations.VersionTable).Scan(&v)
	return v, err
}

// ServerVersion returns the Postgres server's version string.
func (s *Store) ServerVersion(ctx context.Context) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}

// RedactURL hides the password of a connection URL or key=value string.
func RedactURL(conn string) string {
	if u, err := url.Parse(conn); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "REDACTED")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return "(unparsable connection string)"
	}
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s", cfg.Host, cfg.Port, cfg.User, cfg.Database)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database (%s) does not answer: %w", s.where, err)
	}
	return nil
}

// ErrSecretNotRecoverable and ErrSecretUnproven are the sealer's errors
// (package seal), as callers of the store test for them.
var (
	ErrSecretNotRecoverable = seal.ErrSecretNotRecoverable
	ErrSecretUnproven       = seal.ErrSecretUnproven
)

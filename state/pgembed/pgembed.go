// Package pgembed supervises a private Postgres server for gantry on a
// workstation: found among the installed binaries, initialised in its own
// directory, listening on a unix socket only, started on first use and
// kept for later commands, stopped by its pid.
package pgembed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gantryops/gantry/internal/flock"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options configures an embedded Postgres cluster.
type Options struct {
	// Dir holds the cluster: data/ (PGDATA), postgres.log, and usually the
	// socket directory. Created when missing.
	Dir string
	// BinDir holds initdb, pg_ctl and postgres. Empty: found by FindPostgres.
	BinDir string
	// RunAs is the OS user initdb and postgres run as when gantry runs as root
	// (Postgres refuses root). Ignored otherwise.
	RunAs string
	// Database is the database gantry uses inside the cluster, created on start.
	Database string
	// Fast turns off fsync and synchronous commit: for tests and benchmarks
	// only, where a crash may lose the data.
	Fast bool
	// Attached runs the server as a child of this process that the kernel
	// kills if this process dies, instead of a daemon (pg_ctl start) that
	// outlives it. For tests: a crashed test binary leaves no server behind.
	Attached bool
	// Logger receives lines about starting and stopping; nil discards them.
	Logger hclog.Logger
}

// DefaultOptions returns options for the embedded default: the
// cluster in DefaultDir, database "gantry", run as "postgres" when root.
func DefaultOptions() Options {
	return Options{Dir: DefaultDir(), RunAs: "postgres", Database: "gantry"}
}

// DefaultDir returns where the embedded cluster lives:
// $GANTRY_POSTGRES_DIR if set, else $XDG_STATE_HOME/gantry/postgres, else
// ~/.local/state/gantry/postgres; for root without XDG_STATE_HOME,
// /var/lib/gantry/postgres, because root's home is not reachable by the
// unprivileged user Postgres must run as.
func DefaultDir() string {
	if d := os.Getenv("GANTRY_POSTGRES_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "gantry", "postgres")
	}
	if os.Geteuid() == 0 {
		return "/var/lib/gantry/postgres"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "gantry", "postgres")
	}
	return filepath.Join(home, ".local", "state", "gantry", "postgres")
}

// Server is a private Postgres cluster in a directory, reachable only
// through a unix socket whose directory only its owner can enter.
type Server struct {
	opts      Options
	bin       string
	data      string
	socketDir string
	owner     *osUser // nil: run as ourselves
	log       hclog.Logger
	child     *exec.Cmd     // the attached server, when Attached
	exited    chan struct{} // closed when child has exited
}

// New prepares an embedded cluster; nothing runs until Start.
func New(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("embedded postgres: no directory given")
	}
	if opts.Database == "" {
		opts.Database = "gantry"
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	bin := opts.BinDir
	if bin == "" {
		if bin, err = FindPostgres(); err != nil {
			return nil, err
		}
	} else if !hasPostgres(bin) {
		return nil, noPostgres("in " + bin)
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	e := &Server{opts: opts, bin: bin, data: filepath.Join(dir, "data"), socketDir: socketDir(dir), log: log.Named("postgres")}
	if os.Geteuid() == 0 {
		if e.owner, err = lookupUser(opts.RunAs); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// socketDir keeps the socket path under the ~107-byte limit of unix socket
// addresses: inside dir when short enough, else in a short directory in /tmp
// derived from dir.
func socketDir(dir string) string {
	inside := filepath.Join(dir, "run")
	if len(filepath.Join(inside, ".s.PGSQL.5432")) <= 100 {
		return inside
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "gantry-pg-"+hex.EncodeToString(sum[:6]))
}

// Dir returns the cluster's directory.
func (e *Server) Dir() string { return e.opts.Dir }

// ConnString returns the connection string of database db (empty: the
// configured database) over the unix socket.
func (e *Server) ConnString(db string) string {
	if db == "" {
		db = e.opts.Database
	}
	return fmt.Sprintf("host=%s user=gantry dbname=%s sslmode=disable", connValue(e.socketDir), connValue(db))
}

// connValue quotes a value of a keyword/value connection string.
func connValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// Start initialises the cluster if new, starts it unless it already runs,
// waits until it accepts connections, creates the database, and returns its
// connection string. Concurrent Starts (also from other processes) are
// serialised by a lock file; all of them get the same running server.
func (e *Server) Start(ctx context.Context) (string, error) {
	if err := e.prepareDirs(); err != nil {
		return "", err
	}
	unlock, err := flock.Lock(filepath.Join(e.opts.Dir, "launcher.lock"))
	if err != nil {
		return "", fmt.Errorf("embedded postgres %s: %w", e.opts.Dir, err)
	}
	defer unlock()

	if _, err := os.Stat(filepath.Join(e.data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := e.initdb(ctx); err != nil {
			return "", err
		}
	}
	if !e.Running(ctx) {
		if err := e.startServer(ctx); err != nil {
			return "", err
		}
	}
	if err := e.createDatabase(ctx, e.opts.Database); err != nil {
		return "", err
	}
	return e.ConnString(""), nil
}

func (e *Server) prepareDirs() error {
	for _, d := range []string{e.opts.Dir, e.socketDir} {
		// Parents gantry creates (/var/lib/gantry) stay searchable by the user
		// Postgres runs as; only the cluster's own directories are private.
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			return fmt.Errorf("embedded postgres: %w", err)
		}
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("embedded postgres: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("embedded postgres: %w", err)
		}
		if e.owner != nil {
			if err := e.owner.own(d); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Server) initdb(ctx context.Context) error {
	e.log.Info("initialising a new cluster", "dir", e.data)
	args := []string{"-D", e.data, "-U", "gantry", "-A", "trust", "-E", "UTF8", "--locale=C"}
	if e.opts.Fast {
		args = append(args, "--no-sync")
	}
	if out, err := e.command(ctx, "initdb", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("embedded postgres: initdb %s: %w\n%s", e.data, err, out)
	}
	return nil
}

// serverArgs are the postgres options: unix socket only, private to its owner.
func (e *Server) serverArgs() []string {
	args := []string{"-k", e.socketDir, "-c", "listen_addresses=", "-c", "unix_socket_permissions=0700"}
	if e.opts.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	return args
}

func (e *Server) startServer(ctx context.Context) error {
	logFile := filepath.Join(e.opts.Dir, "postgres.log")
	e.log.Info("starting", "dir", e.data, "socket_dir", e.socketDir, "attached", e.opts.Attached)
	start := time.Now()
	if e.opts.Attached {
		if err := e.startAttached(ctx, logFile); err != nil {
			return err
		}
	} else {
		// pg_ctl hands -o to a shell: quote every argument.
		quoted := make([]string, 0, len(e.serverArgs()))
		for _, a := range e.serverArgs() {
			quoted = append(quoted, shellQuote(a))
		}
		opts := strings.Join(quoted, " ")
		out, err := e.command(ctx, "pg_ctl", "-D", e.data, "-o", opts, "-l", logFile, "-w", "-t", "60", "start").CombinedOutput()
		if err != nil {
			return fmt.Errorf("embedded postgres: start %s: %w\n%s\nsee %s", e.data, err, out, logFile)
		}
	}
	e.log.Debug("started", "duration", time.Since(start))
	return nil
}

func (e *Server) startAttached(ctx context.Context, logFile string) error {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("embedded postgres: %w", err)
	}
	cmd := e.command(context.Background(), "postgres", append([]string{"-D", e.data}, e.serverArgs()...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("embedded postgres: start %s: %w", e.data, err)
	}
	e.child, e.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(e.exited) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, e.ConnString("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("embedded postgres: server exited during start-up; see %s", logFile)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded postgres: not accepting connections after 60s: %w; see %s", err, logFile)
		}
	}
}

// Running reports whether the cluster's server is running.
func (e *Server) Running(ctx context.Context) bool {
	if _, err := os.Stat(filepath.Join(e.data, "PG_VERSION")); err != nil {
		return false
	}
	return e.command(ctx, "pg_ctl", "-D", e.data, "status").Run() == nil
}

// Pid returns the process id of the running server, or 0.
func (e *Server) Pid() int {
	data, err := os.ReadFile(filepath.Join(e.data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	var pid int
	_, _ = fmt.Sscanf(string(data), "%d", &pid)
	return pid
}

// Stop stops the server (pg_ctl stop -m fast, which signals the process id in
// postmaster.pid). Stopping a cluster that is not running is not an error.
func (e *Server) Stop(ctx context.Context) error {
	if e.child != nil {
		// SIGINT is Postgres's fast shutdown, as pg_ctl stop -m fast sends.
		_ = e.child.Process.Signal(syscall.SIGINT)
		select {
		case <-e.exited:
		case <-time.After(30 * time.Second):
			_ = e.child.Process.Kill()
			<-e.exited
		}
		e.child = nil
		return nil
	}
	if !e.Running(ctx) {
		return nil
	}
	e.log.Info("stopping", "dir", e.data, "pid", e.Pid())
	if out, err := e.command(ctx, "pg_ctl", "-D", e.data, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("embedded postgres: stop %s: %w\n%s", e.data, err, out)
	}
	return nil
}

func (e *Server) createDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, e.ConnString("postgres"))
	if err != nil {
		return fmt.Errorf("embedded postgres: connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, sqlDatabaseExists, name).Scan(&exists); err != nil {
		return fmt.Errorf("embedded postgres: %w", err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: a racing creator won
		return nil
	}
	if err != nil {
		return fmt.Errorf("embedded postgres: create database %s: %w", name, err)
	}
	return nil
}

const sqlDatabaseExists = `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`

// command builds a command for a Postgres binary, run as the owner when root.
func (e *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(e.bin, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if e.owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: e.owner.uid, Gid: e.owner.gid}}
		cmd.Dir = e.opts.Dir // root's working directory may be unreachable for the owner
	}
	return cmd
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

package state_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/state"
)

// TestLockRefusesTransactionPooler puts a real PgBouncer in transaction
// mode between gantry and Postgres: opening the database through it is
// refused at start with ErrPooler (session advisory locks would not stay
// with gantry), while through a session-mode PgBouncer gantry opens the
// database and takes locks.
func TestLockRefusesTransactionPooler(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		t.Fatalf("pgbouncer is not installed (make test installs it: apt-get install pgbouncer): %v", err)
	}
	dsn := srv.NewDatabase(t)
	// Migrate directly: the schema is not what is tested here.
	direct, err := state.Open(context.Background(), state.Options{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	direct.Close()
	host := regexp.MustCompile(`host=(\S+)`).FindStringSubmatch(dsn)[1]
	db := regexp.MustCompile(`dbname=(\S+)`).FindStringSubmatch(dsn)[1]

	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) {
			port := startPgBouncer(t, bin, mode, host, db)
			url := fmt.Sprintf("host=127.0.0.1 port=%d dbname=gantrydb user=gantry sslmode=disable default_query_exec_mode=simple_protocol", port)
			s, err := state.Open(context.Background(), state.Options{DatabaseURL: url})
			if mode == "transaction" {
				// Refused at start, before anything is written.
				if !errors.Is(err, state.ErrPooler) || !strings.Contains(err.Error(), "session-mode pool") {
					t.Fatalf("open through a transaction-mode pool: %v, want ErrPooler saying what to do", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("open through a session-mode pool: %v", err)
			}
			defer s.Close()
			l, err := s.Lock(context.Background(), "pooled", "test", "", 0)
			if err != nil {
				t.Fatalf("lock through a session-mode pool: %v", err)
			}
			_ = l.Release(context.Background())
		})
	}
}

// startPgBouncer runs pgbouncer in mode on a free loopback port in front of
// the database db on the unix socket directory host, until t ends. As root
// it runs as the postgres user (pgbouncer refuses root).
func startPgBouncer(t *testing.T, bin, mode, host, db string) int {
	t.Helper()
	// Not t.TempDir(): its parent is private to root, and pgbouncer runs
	// as postgres.
	dir, err := os.MkdirTemp("", "gantry-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ini := fmt.Sprintf(`[databases]
gantrydb = host=%s dbname=%s user=gantry
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = %s
default_pool_size = 4
min_pool_size = 3
ignore_startup_parameters = extra_float_digits,search_path
logfile = %s
pidfile = %s
`, host, db, port, mode, filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	cfg := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(cfg, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, cfg)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := pgx.Connect(context.Background(), fmt.Sprintf("host=127.0.0.1 port=%d dbname=gantrydb user=gantry sslmode=disable default_query_exec_mode=simple_protocol", port))
		if err == nil {
			c.Close(context.Background())
			return port
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer did not accept connections: %v\n%s\n%s", err, log, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

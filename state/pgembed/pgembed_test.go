package pgembed_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/state/pgembed"
	"github.com/gantryops/gantry/state/statetest"
)

func newEmbedded(t *testing.T, dir string) *pgembed.Server {
	t.Helper()
	opts := pgembed.DefaultOptions()
	opts.Dir, opts.Fast = dir, true
	e, err := pgembed.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEmbeddedStartReuseStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A space in the path: pg_ctl passes options through a shell.
	dir := filepath.Join(statetest.TempDir(t), "with space")
	e := newEmbedded(t, dir)
	t.Cleanup(func() { _ = e.Stop(ctx) })

	dsn, err := e.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(dsn, sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(dsn, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	pid := e.Pid()
	if pid == 0 || !e.Running(ctx) {
		t.Fatalf("after Start: pid %d, running %v", pid, e.Running(ctx))
	}

	// A second launcher on the same directory (another gantry command) reuses it.
	again := newEmbedded(t, dir)
	if _, err := again.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if again.Pid() != pid {
		t.Errorf("second Start started a new server: pid %d, want %d", again.Pid(), pid)
	}

	if err := again.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if e.Running(ctx) {
		t.Fatal("still running after Stop")
	}
	if err := exec(dsn, "SELECT 1"); err == nil {
		t.Fatal("connected after Stop")
	}
	if err := e.Stop(ctx); err != nil {
		t.Errorf("Stop when stopped: %v", err)
	}

	// Restarting keeps the data.
	if _, err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Errorf("after restart: v = %d, %v; want 42", v, err)
	}
	// Only a unix socket: the server listens on no TCP port.
	var listen string
	if err := conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil || listen != "" {
		t.Errorf("listen_addresses = %q, %v; want empty", listen, err)
	}
}

func TestEmbeddedWithoutBinaries(t *testing.T) {
	t.Parallel()
	opts := pgembed.DefaultOptions()
	empty := t.TempDir()
	opts.Dir, opts.BinDir = statetest.TempDir(t), empty
	_, err := pgembed.New(opts)
	if !errors.Is(err, pgembed.ErrNoPostgres) {
		t.Fatalf("err = %v, want ErrNoPostgres", err)
	}
	for _, want := range []string{empty, "apt-get install postgresql", "--database-url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestEmbeddedUnreachableDirectory: as root, Postgres runs as an unprivileged
// user, which must be able to reach the directory; gantry says so instead of
// failing inside initdb. As another user, the directory is the user's own.
func TestEmbeddedUnreachableDirectory(t *testing.T) {
	t.Parallel()
	parent := statetest.TempDir(t)
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	e := newEmbedded(t, filepath.Join(parent, "deeper", "pg"))
	_, err := e.Start(context.Background())
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	if os.Geteuid() != 0 {
		if err != nil {
			t.Fatalf("non-root Start under a private directory: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("Start succeeded in a directory the postgres user cannot reach")
	}
	for _, want := range []string{parent, "GANTRY_POSTGRES_DIR", "chmod o+x", "--database-url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestEmbeddedAttachedDiesWithItsParent: a test binary that crashes must not
// leave its Postgres running.
func TestEmbeddedAttachedDiesWithItsParent(t *testing.T) {
	t.Parallel()
	dir := statetest.TempDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GANTRY_TEST_ATTACHED_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(stdout, &pid); err != nil || pid == 0 {
		_ = cmd.Process.Kill()
		t.Fatalf("child printed no server pid: %v", err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("server pid %d not running: %v", pid, err)
	}
	_ = cmd.Process.Kill() // the parent dies without stopping anything
	_ = cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("server pid %d still running after its parent was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports whether pid is a live process (not a zombie awaiting reaping).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(after, "Z")
}

package state_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/state"
)

func TestLockIsExclusivePerStack(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	ctx := context.Background()
	first, err := s.Lock(ctx, "web", "alice", "11111111-1111-1111-1111-111111111111", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Another stack is independent.
	other, err := s.Lock(ctx, "api", "bob", "", 0)
	if err != nil {
		t.Fatalf("locking another stack: %v", err)
	}
	_ = other.Release(ctx)

	_, err = s.Lock(ctx, "web", "bob", "", 0)
	var locked *state.LockedError
	if !errors.Is(err, state.ErrLocked) || !errors.As(err, &locked) {
		t.Fatalf("second lock: err = %v, want ErrLocked", err)
	}
	for _, w := range []string{"locked by alice", "plan 11111111-1111-1111-1111-111111111111", first.Holder().LockID, "gantry force-unlock"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
	start := time.Now()
	if _, err = s.Lock(ctx, "web", "bob", "", 300*time.Millisecond); !errors.Is(err, state.ErrLocked) {
		t.Errorf("with a timeout: err = %v, want ErrLocked", err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("--lock-timeout 300ms gave up after %s", waited)
	}
	// Released, the waiter gets it.
	go func() { time.Sleep(200 * time.Millisecond); _ = first.Release(ctx) }()
	second, err := s.Lock(ctx, "web", "bob", "", 5*time.Second)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	_ = second.Release(ctx)
}

func TestForceUnlock(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	ctx := context.Background()
	held, err := s.Lock(ctx, "web", "alice", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.ForceUnlock(ctx, held.Holder().LockID, "operator")
	if err != nil {
		t.Fatal(err)
	}
	if h.Holder != "alice" || h.Stack != "web" {
		t.Errorf("broken lock's holder: %+v", h)
	}
	again, err := s.Lock(ctx, "web", "bob", "", 2*time.Second)
	if err != nil {
		t.Fatalf("after force-unlock: %v", err)
	}
	_ = again.Release(ctx)
	if n := countWhere(t, dsn, "audit_events", "kind = 'lock.broken' AND actor = 'operator'"); n != 1 {
		t.Errorf("lock.broken audit events: %d, want 1", n)
	}
	if _, err := s.ForceUnlock(ctx, held.Holder().LockID, "operator"); err == nil || !strings.Contains(err.Error(), "no lock with ID") {
		t.Errorf("unlocking twice: %v", err)
	}
}

// TestLockDiesWithItsHolder: a process that dies holding the lock releases
// it with its session, and its running apply is recorded as interrupted by
// the next holder when it recovers the dead applies (not by Lock itself).
func TestLockDiesWithItsHolder(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	ctx := context.Background()
	planID := recordPlan(t, s, "web")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GANTRY_TEST_LOCK_DSN="+dsn, "GANTRY_TEST_LOCK_PLAN="+planID)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		_ = cmd.Process.Kill()
		t.Fatalf("child: %q, %v", line, err)
	}
	if _, err := s.Lock(ctx, "web", "bob", "", 0); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("while the child holds it: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	l, err := s.Lock(ctx, "web", "bob", "", 10*time.Second)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	defer l.Release(ctx)
	if n := countWhere(t, dsn, "applies", "status = 'interrupted'"); n != 0 {
		t.Errorf("interrupted applies after Lock alone: %d, want none (recovering is a step of its own)", n)
	}
	if n, err := l.RecoverDead(ctx); n != 1 || err != nil {
		t.Fatalf("RecoverDead: %d, %v; want the dead holder's apply", n, err)
	}
	if n := countWhere(t, dsn, "applies", "status = 'interrupted'"); n != 1 {
		t.Errorf("interrupted applies: %d, want the dead holder's one", n)
	}
	if n := countWhere(t, dsn, "audit_events", "kind = 'apply.interrupted'"); n != 1 {
		t.Errorf("apply.interrupted audit events: %d, want 1", n)
	}
}

// lockChild locks a stack, starts an apply, says so and waits to be killed.
func lockChild(dsn, planID string) int {
	ctx := context.Background()
	s, err := state.Open(ctx, state.Options{DatabaseURL: dsn})
	if err != nil {
		return 1
	}
	if _, err := s.Lock(ctx, "web", "alice", planID, 0); err != nil {
		return 1
	}
	if err := s.StartApply(ctx, state.ApplyStart{ID: state.NewID(), PlanID: planID, Stack: "web", Actor: "alice", StartedAt: time.Now()}); err != nil {
		return 1
	}
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute)
	return 0
}

func TestAuditAndPlansCannotBeChanged(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	recordPlan(t, s, "web")
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{
		"UPDATE audit_events SET actor = 'mallory'",
		"DELETE FROM audit_events",
		"TRUNCATE audit_events",
		"UPDATE plans SET digest = 'sha256:forged'",
	} {
		if _, err := conn.Exec(context.Background(), sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want a refusal", sql, err)
		}
	}
	if n := countWhere(t, dsn, "audit_events", "kind = 'plan.created'"); n != 1 {
		t.Errorf("audit events after the attempts: %d, want the 1 recorded", n)
	}
}

func countWhere(t *testing.T, dsn, table, where string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()+" WHERE "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

package state

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrLocked is returned (wrapped by *LockedError) when another apply holds a
// stack's lock.
var ErrLocked = errors.New("stack is locked")

// ErrLockLost is returned by Lock.Check once the session holding the lock
// has ended (terminated, Postgres restarted, the network cut): another
// process may hold the lock now.
var ErrLockLost = errors.New("the stack's lock was lost")

// ErrPooler refuses a lock taken through a transaction-mode connection
// pooler, whose sessions do not keep advisory locks.
var ErrPooler = errors.New("a transaction-mode connection pooler is in the way")

// LockHolder says who holds a stack's apply lock.
type LockHolder struct {
	// LockID names the lock for `gantry force-unlock`.
	LockID string
	Stack  string
	// Holder is the actor; Host and PID the process; BackendPID its
	// Postgres session.
	Holder, Host    string
	PID, BackendPID int
	// PlanID is the plan being applied, if known.
	PlanID string
	Since  time.Time
}

// LockedError says who holds the lock a caller could not take.
type LockedError struct {
	Stack string
	// Holder is nil when the holder recorded nothing (it is starting up).
	Holder *LockHolder
}

func (e *LockedError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("%s: %s is being applied by another process that has not said who it is yet: retry in a moment, or raise --lock-timeout", ErrLocked, e.Stack)
	}
	h := e.Holder
	plan := ""
	if h.PlanID != "" {
		plan = " applying plan " + h.PlanID
	}
	return fmt.Sprintf("%s: %s is locked by %s on %s (pid %d)%s since %s (%s ago), lock ID %s: wait for that apply to finish or retry with a longer --lock-timeout; if that process is gone, run `gantry force-unlock %s`",
		ErrLocked, e.Stack, h.Holder, h.Host, h.PID, plan, h.Since.UTC().Format(time.RFC3339), time.Since(h.Since).Round(time.Second), h.LockID, h.LockID)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is a held stack lock: a Postgres advisory lock held by a session of
// its own (never a pooled connection, which another caller could reuse
// while the lock is held), released by Release or when the process ends.
type Lock struct {
	conn   *pgx.Conn
	key    int64
	holder LockHolder

	mu   sync.Mutex // the connection serves one query at a time
	lost error
}

// lockKey maps a stack to its advisory lock key (non-negative, so that it
// reads back the same from pg_locks).
func lockKey(stack string) int64 {
	sum := sha256.Sum256([]byte("gantry.dev/stack-lock/" + stack))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
}

const (
	sqlTryLock    = `SELECT pg_try_advisory_lock($1)`
	sqlLock       = `SELECT pg_advisory_lock($1)`
	sqlUnlock     = `SELECT pg_advisory_unlock($1)`
	sqlLockHolder = `SELECT lock_id, holder, host, pid, backend_pid, coalesce(plan_id::text, ''), since FROM stack_locks WHERE stack = $1`
	sqlPutHolder  = `
INSERT INTO stack_locks (stack, lock_id, holder, host, pid, backend_pid, plan_id, since)
VALUES ($1, $2, $3, $4, $5, pg_backend_pid(), $6, now())
ON CONFLICT (stack) DO UPDATE SET lock_id = EXCLUDED.lock_id, holder = EXCLUDED.holder, host = EXCLUDED.host,
    pid = EXCLUDED.pid, backend_pid = EXCLUDED.backend_pid, plan_id = EXCLUDED.plan_id, since = EXCLUDED.since
RETURNING backend_pid, since`
	sqlDropHolder = `DELETE FROM stack_locks WHERE lock_id = $1`
	sqlHolderByID = `SELECT stack, holder, host, pid, backend_pid, coalesce(plan_id::text, ''), since FROM stack_locks WHERE lock_id = $1`
	// The session holding an advisory lock shows in pg_locks with the key
	// split into classid (high 32 bits) and objid (low 32 bits).
	sqlHoldsLock = `
SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1
    AND ((classid::bigint << 32) | objid::bigint) = $2)`
)

// Lock takes the stack's apply lock for holder (applying planID), waiting up
// to timeout (0: not at all), and records the holder. When the lock is held
// by someone else, the error is a *LockedError naming them. Applies a
// previous holder left "running" stay so until the new holder calls
// RecoverDead.
func (s *Store) Lock(ctx context.Context, stack, holder, planID string, timeout time.Duration) (*Lock, error) {
	if s.readOnly {
		// Locks are taken on connections of their own, outside the
		// read-only pool, and taking one records its holder.
		return nil, fmt.Errorf("lock %s: %w", stack, ErrReadOnly)
	}
	conn, err := pgx.Connect(ctx, s.connString)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", stack, err)
	}
	key := lockKey(stack)
	if err := acquire(ctx, conn, key, timeout); err != nil {
		locked := &LockedError{Stack: stack}
		if errors.Is(err, ErrLocked) {
			if h, herr := readHolder(ctx, conn, stack); herr == nil {
				locked.Holder = h
			}
			err = locked
		}
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	host, _ := os.Hostname()
	l := &Lock{conn: conn, key: key, holder: LockHolder{LockID: uuid.NewString(), Stack: stack, Holder: holder, Host: host, PID: os.Getpid(), PlanID: planID}}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, sqlPutHolder, stack, l.holder.LockID, holder, host, l.holder.PID, nullable(planID)).Scan(&l.holder.BackendPID, &l.holder.Since)
	})
	if err != nil {
		_ = l.Release(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("lock %s: %w", stack, err)
	}
	if err := checkSessionPinned(ctx, conn, s.pool, l.holder.BackendPID); err != nil {
		_ = l.Release(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("lock %s: %w", stack, err)
	}
	return l, nil
}

// checkSessionPinned refuses a connection that does not keep its server
// session, as behind a transaction-mode pooler: while another connection
// (other) holds a transaction open (and with it, behind such a pooler, the server
// session the lock's connection used last), the lock's connection must
// still reach its own session, pid. Through a pooled connection it reaches
// another one, or waits for one.
func checkSessionPinned(ctx context.Context, conn *pgx.Conn, other interface {
	Begin(context.Context) (pgx.Tx, error)
}, pid int) error {
	tx, err := other.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // it only read
	if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var now int
	err = conn.QueryRow(qctx, `SELECT pg_backend_pid()`).Scan(&now)
	if err == nil && now == pid {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: the lock's connection reached Postgres session %d, then %v; session advisory locks do not survive transaction pooling, so two gantry processes could apply a stack at once: connect directly, or through a session-mode pool (docs/configuration.md)",
		ErrPooler, pid, sessionOrErr(now, err))
}

func sessionOrErr(pid int, err error) string {
	if err != nil {
		return "none within 2s (" + err.Error() + ")"
	}
	return fmt.Sprintf("session %d", pid)
}

// checkPooler opens two connections to connString and refuses a
// transaction-mode pooler between gantry and Postgres, at start, before
// anything is written.
func checkPooler(ctx context.Context, connString string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	other, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer other.Close(context.WithoutCancel(ctx))
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return err
	}
	return checkSessionPinned(ctx, conn, other, pid)
}

// Check verifies that the lock is still held: that its session is alive and
// holds the advisory lock. Once it is not, Check fails with ErrLockLost for
// good. Callers check before every write, so that a gantry whose lock was
// taken from it stops before changing anything more.
func (l *Lock) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	var holds bool
	err := l.conn.QueryRow(ctx, sqlHoldsLock, l.holder.BackendPID, l.key).Scan(&holds)
	switch {
	case err != nil && ctx.Err() != nil:
		return err // cancelled: nothing is known about the lock
	case err != nil:
		l.lost = fmt.Errorf("%w: its database session (%d) ended: %v", ErrLockLost, l.holder.BackendPID, err)
	case !holds:
		l.lost = fmt.Errorf("%w: its database session (%d) no longer holds it", ErrLockLost, l.holder.BackendPID)
	}
	return l.lost
}

func acquire(ctx context.Context, conn *pgx.Conn, key int64, timeout time.Duration) error {
	if timeout <= 0 {
		var ok bool
		if err := conn.QueryRow(ctx, sqlTryLock, key).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return ErrLocked
		}
		return nil
	}
	if _, err := conn.Exec(ctx, `SELECT set_config('lock_timeout', $1, false)`, fmt.Sprintf("%dms", timeout.Milliseconds())); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, sqlLock, key)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
		return ErrLocked
	}
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `RESET lock_timeout`)
	return err
}

func readHolder(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, stack string) (*LockHolder, error) {
	h := &LockHolder{Stack: stack}
	err := q.QueryRow(ctx, sqlLockHolder, stack).Scan(&h.LockID, &h.Holder, &h.Host, &h.PID, &h.BackendPID, &h.PlanID, &h.Since)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Holder returns who holds the lock (this process).
func (l *Lock) Holder() LockHolder { return l.holder }

// Release releases the lock and closes its session.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err1 := l.conn.Exec(ctx, sqlDropHolder, l.holder.LockID)
	_, err2 := l.conn.Exec(ctx, sqlUnlock, l.key)
	err3 := l.conn.Close(ctx)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("release lock %s of %s: %w", l.holder.LockID, l.holder.Stack, err)
	}
	return nil
}

// ForceUnlock breaks the lock lockID: it ends the Postgres session holding
// it, if one still does (the apply that session belongs to loses its
// database connection and fails), removes the holder's record, and logs a
// "lock.broken" audit event naming both actors.
func (s *Store) ForceUnlock(ctx context.Context, lockID, actor string) (*LockHolder, error) {
	if _, err := uuid.Parse(lockID); err != nil {
		return nil, fmt.Errorf("force-unlock: %q is not a lock ID (a UUID, as the locked error shows)", lockID)
	}
	h := &LockHolder{LockID: lockID}
	err := s.pool.QueryRow(ctx, sqlHolderByID, lockID).Scan(&h.Stack, &h.Holder, &h.Host, &h.PID, &h.BackendPID, &h.PlanID, &h.Since)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("force-unlock: no lock with ID %s: the stack may already be unlocked", lockID)
	}
	if err != nil {
		return nil, fmt.Errorf("force-unlock %s: %w", lockID, err)
	}
	var holds, terminated bool
	if err := s.pool.QueryRow(ctx, sqlHoldsLock, h.BackendPID, lockKey(h.Stack)).Scan(&holds); err != nil {
		return nil, fmt.Errorf("force-unlock %s: %w", lockID, err)
	}
	if holds {
		if err := s.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, h.BackendPID).Scan(&terminated); err != nil {
			return nil, fmt.Errorf("force-unlock %s: end the holder's session %d: %w", lockID, h.BackendPID, err)
		}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlDropHolder, lockID); err != nil {
			return err
		}
		return appendAudit(ctx, tx, AuditEvent{Stack: h.Stack, Actor: actor, PlanID: h.PlanID, Data: event.LockBrokenData{
			LockID: lockID, Holder: h.Holder, Host: h.Host, PID: h.PID, Since: h.Since, SessionEnded: terminated,
		}})
	})
	if err != nil {
		return nil, fmt.Errorf("force-unlock %s: %w", lockID, err)
	}
	return h, nil
}

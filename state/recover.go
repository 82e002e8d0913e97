package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/gantryops/gantry/event"
	"github.com/jackc/pgx/v5"
)

// RecoverDead closes the applies of the lock's stack left running by
// processes that died (nobody else holds the lock, so none is alive): each
// is recorded interrupted, its unconfirmed outcomes unknown (the next plan
// looks at the cluster itself), what it may have made added to the
// inventory (plans made against the inventory before are then stale), with
// an apply.interrupted event; all in one transaction. It returns how many
// it closed. Holders call it right after taking the lock, before reading
// the inventory.
func (l *Lock) RecoverDead(ctx context.Context) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stack, actor := l.holder.Stack, l.holder.Holder
	var closed int
	err := pgx.BeginFunc(ctx, l.conn, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sqlInterruptRunning, stack, "the process applying it ended before the apply finished")
		if err != nil {
			return err
		}
		type orphan struct{ id, plan string }
		orphans, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (orphan, error) {
			var o orphan
			return o, row.Scan(&o.id, &o.plan)
		})
		if err != nil {
			return err
		}
		for _, o := range orphans {
			if err := interruptOrphan(ctx, tx, stack, actor, o.id, o.plan); err != nil {
				return err
			}
		}
		closed = len(orphans)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("recover the dead applies of %s: %w", stack, err)
	}
	return closed, nil
}

// interruptOrphan records the dead apply id (of plan) of stack interrupted.
func interruptOrphan(ctx context.Context, tx pgx.Tx, stack, actor, id, plan string) error {
	// What it meant to do and never confirmed: unknown.
	if _, err := tx.Exec(ctx, sqlUnknownOutcomes, id); err != nil {
		return err
	}
	grown, err := tx.Exec(ctx, sqlGrowInventoryFrom, stack, id)
	if err != nil {
		return err
	}
	if grown.RowsAffected() > 0 {
		if _, err := tx.Exec(ctx, sqlBumpInventory, stack); err != nil {
			return err
		}
	}
	return appendAudit(ctx, tx, AuditEvent{Stack: stack, Actor: actor, PlanID: plan, ApplyID: id,
		Data: event.ApplyInterruptedData{Error: "found running when the stack was next locked: the process applying it ended"}})
}

// RecoverDead closes the applies of the stack left running by processes
// that died (Lock.RecoverDead), if there are any and nobody alive holds the
// stack's lock. Planning without the lock calls it first, so that a plan
// after a crash is made against the inventory the crash left.
func (s *Store) RecoverDead(ctx context.Context, stack, actor string) error {
	var running bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM applies WHERE stack = $1 AND status = 'running')`, stack).Scan(&running); err != nil {
		return fmt.Errorf("applies of %s: %w", stack, err)
	}
	if !running {
		return nil
	}
	l, err := s.Lock(ctx, stack, actor, "", 0)
	if errors.Is(err, ErrLocked) {
		return nil // its applier is alive
	}
	if err != nil {
		return err
	}
	_, err = l.RecoverDead(ctx)
	return errors.Join(err, l.Release(ctx))
}

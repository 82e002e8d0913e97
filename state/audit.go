package state

import (
	"context"
	"fmt"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// AuditEvent is one entry of the append-only audit log.
type AuditEvent struct {
	ID      string
	At      time.Time
	Stack   string
	Actor   string
	Kind    event.Kind
	PlanID  string
	ApplyID string
	Details map[string]any
}

// Audit appends an event to the audit log.
func (s *Store) Audit(ctx context.Context, e AuditEvent) error {
	return appendAudit(ctx, s.pool, e)
}

// execer is what both a pool and a transaction can do.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func appendAudit(ctx context.Context, db execer, e AuditEvent) error {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	if _, err := db.Exec(ctx, sqlAppendAudit, e.ID, e.Stack, e.Actor, string(e.Kind), nullable(e.PlanID), nullable(e.ApplyID), e.Details); err != nil {
		return fmt.Errorf("audit %s of stack %s: %w", e.Kind, e.Stack, err)
	}
	return nil
}

func nullable(id string) any {
	if id == "" {
		return nil
	}
	return id
}

package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// AuditEvent is one entry of the append-only audit log: the event feed
// (docs/events.md). Writers give Data, which decides the kind; readers get
// Kind and Details, the data as stored (JSON decoded), whatever version of
// gantry wrote it.
type AuditEvent struct {
	ID      string
	At      time.Time
	Stack   string
	Actor   string
	Kind    event.Kind
	PlanID  string
	ApplyID string
	Data    event.Data
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
	if e.Data == nil {
		return fmt.Errorf("audit of stack %s: an event without data (a bug in gantry)", e.Stack)
	}
	e.Kind = e.Data.Kind()
	data, err := json.Marshal(e.Data)
	if err != nil {
		return fmt.Errorf("audit %s of stack %s: %w", e.Kind, e.Stack, err)
	}
	if _, err := db.Exec(ctx, sqlAppendAudit, e.ID, e.Stack, e.Actor, string(e.Kind), nullable(e.PlanID), nullable(e.ApplyID), string(data)); err != nil {
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

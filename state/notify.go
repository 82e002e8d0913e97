package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/event"
)

// Delivery statuses (notification_deliveries.status).
const (
	DeliveryQueued = "queued"
	DeliverySent   = "sent"
	DeliveryDead   = "dead"
)

// Delivery is an event's delivery to one provider: its ID is the delivery
// ID every attempt sends (the receivers' idempotency key).
type Delivery struct {
	ID        string
	Seq       int64
	Provider  string
	Stack     string
	Status    string
	Attempts  int
	NextAt    time.Time
	LastError string
	CreatedAt time.Time
	SentAt    *time.Time
	// Event is the event delivered.
	Event AuditEvent
	// Plan is what the record says of the event's plan (zero: no plan).
	Plan PlanContext
}

// PlanContext is what a message says of an event's plan: its source and
// commit, its changes counted as Terraform counts them (a replace is one
// to add and one to destroy; hooks aside), and why it is destructive.
type PlanContext struct {
	Repo, Commit, SourceKind string
	Add, Change, Destroy     int
	Destructive              []string
}

// planContextSQL reads a delivery's PlanContext from plans p (joined on
// the event's plan; all zero without one).
const planContextSQL = `coalesce(p.body->'source'->>'repo', ''), coalesce(p.body->'source'->>'commit', ''), coalesce(p.body->'source'->>'kind', ''),
       (SELECT count(*) FROM jsonb_array_elements(coalesce(p.body->'changes', '[]')) c WHERE c->'hook' IS NULL AND c->>'action' IN ('create', 'replace')),
       (SELECT count(*) FROM jsonb_array_elements(coalesce(p.body->'changes', '[]')) c WHERE c->'hook' IS NULL AND c->>'action' IN ('update', 'adopt')),
       (SELECT count(*) FROM jsonb_array_elements(coalesce(p.body->'changes', '[]')) c WHERE c->'hook' IS NULL AND c->>'action' IN ('delete', 'replace')),
       coalesce(p.body->'destructive', '[]')`

// DeliveryResult is what became of an attempt, as the dispatcher decided
// it: sent; or failed, with Error, to be tried again at NextAt, or Dead.
type DeliveryResult struct {
	Sent   bool
	Error  string
	NextAt time.Time
	Dead   bool
}

// RouteOutbox routes up to limit events of the outbox not routed yet, in
// their order: a queued delivery for each provider route names for the
// event's stack and kind (none: the event is routed to nobody), and the
// outbox row marked routed, in one transaction; each due at now. Rows another process is
// routing are skipped (SKIP LOCKED), so replicas share the work and route
// each event once. It returns how many events it routed.
func (s *Store) RouteOutbox(ctx context.Context, route func(stack string, kind event.Kind) []string, limit int, now time.Time) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT o.seq, o.event_id, o.stack, e.kind
FROM notification_outbox o JOIN audit_events e ON e.id = o.event_id
WHERE NOT o.routed ORDER BY o.seq LIMIT $1 FOR UPDATE OF o SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		type pending struct {
			seq          int64
			event, stack string
			kind         event.Kind
		}
		events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pending, error) {
			var p pending
			return p, row.Scan(&p.seq, &p.event, &p.stack, &p.kind)
		})
		if err != nil {
			return err
		}
		for _, p := range events {
			for _, provider := range route(p.stack, p.kind) {
				if _, err := tx.Exec(ctx, `
INSERT INTO notification_deliveries (id, seq, event_id, stack, provider, next_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (event_id, provider) DO NOTHING`, uuid.NewString(), p.seq, p.event, p.stack, provider, now); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE notification_outbox SET routed = true WHERE seq = $1`, p.seq); err != nil {
				return err
			}
		}
		n = len(events)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("route notifications: %w", err)
	}
	return n, nil
}

// DueStacks returns the stacks whose next delivery to provider (the
// queued one of lowest seq) is due at now.
func (s *Store) DueStacks(ctx context.Context, provider string, now time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
SELECT stack FROM (
    SELECT DISTINCT ON (stack) stack, next_at FROM notification_deliveries
    WHERE provider = $1 AND status = 'queued' ORDER BY stack, seq
) heads WHERE next_at <= $2 ORDER BY stack`, provider, now)
	if err != nil {
		return nil, fmt.Errorf("notifications due for %s: %w", provider, err)
	}
	stacks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("notifications due for %s: %w", provider, err)
	}
	return stacks, nil
}

// ErrDeliveryBusy says another process is sending to that provider for
// that stack now.
var ErrDeliveryBusy = errors.New("another process is sending this stack's notifications to this provider")

// SendHead attempts the next delivery of stack to provider, if it is due
// at now: holding, for the whole attempt, a transaction-scoped advisory
// lock on (provider, stack), so that no two processes send to one
// provider for one stack at once (and so never one delivery twice at
// once), in order. send makes the attempt; its result is recorded in the
// same transaction. A process that dies mid-attempt records nothing: the
// delivery stays queued and is sent again, with the same delivery ID. It
// reports whether a delivery was attempted.
func (s *Store) SendHead(ctx context.Context, provider, stack string, now time.Time, send func(Delivery) DeliveryResult) (bool, error) {
	attempted := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended('gantry-notify/' || $1 || '/' || $2, 0))`, provider, stack).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			return ErrDeliveryBusy
		}
		var d Delivery
		var e AuditEvent
		err := tx.QueryRow(ctx, `
SELECT d.id, d.seq, d.provider, d.stack, d.status, d.attempts, d.next_at, coalesce(d.last_error, ''), d.created_at,
       e.id, e.at, e.stack, e.actor, e.kind, coalesce(e.plan_id::text, ''), coalesce(e.apply_id::text, ''), e.details,
       `+planContextSQL+`
FROM notification_deliveries d JOIN audit_events e ON e.id = d.event_id LEFT JOIN plans p ON p.id = e.plan_id
WHERE d.provider = $1 AND d.stack = $2 AND d.status = 'queued'
ORDER BY d.seq LIMIT 1 FOR UPDATE OF d`, provider, stack).Scan(
			&d.ID, &d.Seq, &d.Provider, &d.Stack, &d.Status, &d.Attempts, &d.NextAt, &d.LastError, &d.CreatedAt,
			&e.ID, &e.At, &e.Stack, &e.Actor, &e.Kind, &e.PlanID, &e.ApplyID, &e.Details,
			&d.Plan.Repo, &d.Plan.Commit, &d.Plan.SourceKind, &d.Plan.Add, &d.Plan.Change, &d.Plan.Destroy, &d.Plan.Destructive)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.NextAt.After(now) {
			return nil
		}
		d.Event = e
		attempted = true
		r := send(d)
		switch {
		case r.Sent:
			_, err = tx.Exec(ctx, `UPDATE notification_deliveries SET status = 'sent', attempts = attempts + 1, sent_at = clock_timestamp(), last_error = NULL WHERE id = $1`, d.ID)
		case r.Dead:
			_, err = tx.Exec(ctx, `UPDATE notification_deliveries SET status = 'dead', attempts = attempts + 1, last_error = $2 WHERE id = $1`, d.ID, r.Error)
		default:
			_, err = tx.Exec(ctx, `UPDATE notification_deliveries SET attempts = attempts + 1, last_error = $2, next_at = $3 WHERE id = $1`, d.ID, r.Error, r.NextAt)
		}
		return err
	})
	if errors.Is(err, ErrDeliveryBusy) {
		return false, nil
	}
	if err != nil {
		return attempted, fmt.Errorf("notification of %s to %s: %w", stack, provider, err)
	}
	return attempted, nil
}

// Deliveries returns the newest deliveries, at most limit, those of status
// when it is not empty (queued, sent, dead).
func (s *Store) Deliveries(ctx context.Context, status string, limit int) ([]Delivery, error) {
	rows, err := s.pool.Query(ctx, `
SELECT d.id, d.seq, d.provider, d.stack, d.status, d.attempts, d.next_at, coalesce(d.last_error, ''), d.created_at, d.sent_at,
       e.id, e.at, e.stack, e.actor, e.kind, coalesce(e.plan_id::text, ''), coalesce(e.apply_id::text, ''), e.details
FROM notification_deliveries d JOIN audit_events e ON e.id = d.event_id
WHERE $1 = '' OR d.status = $1
ORDER BY d.seq DESC, d.provider LIMIT $2`, status, limit)
	if err != nil {
		return nil, fmt.Errorf("notification deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := row.Scan(&d.ID, &d.Seq, &d.Provider, &d.Stack, &d.Status, &d.Attempts, &d.NextAt, &d.LastError, &d.CreatedAt, &d.SentAt,
			&d.Event.ID, &d.Event.At, &d.Event.Stack, &d.Event.Actor, &d.Event.Kind, &d.Event.PlanID, &d.Event.ApplyID, &d.Event.Details)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("notification deliveries: %w", err)
	}
	return out, nil
}

// QueuedDeliveries counts the queued deliveries of each provider.
func (s *Store) QueuedDeliveries(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT provider, count(*) FROM notification_deliveries WHERE status = 'queued' GROUP BY provider`)
	if err != nil {
		return nil, fmt.Errorf("queued notifications: %w", err)
	}
	out := map[string]int{}
	var provider string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&provider, &n}, func() error { out[provider] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("queued notifications: %w", err)
	}
	return out, nil
}

// RetryDelivery queues a delivery again (a dead letter, or a queued one
// now), keeping its delivery ID: the receiver deduplicates it if it had it.
func (s *Store) RetryDelivery(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE notification_deliveries SET status = 'queued', next_at = clock_timestamp() WHERE id = $1 AND status <> 'sent'`, id)
	if err != nil {
		return fmt.Errorf("retry notification %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("retry notification %s: %w (or it was sent)", id, ErrNotFound)
	}
	return nil
}

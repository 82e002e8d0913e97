-- 007: the notification outbox (issue 15, docs/notifications.md).

-- Every event of the audit log gets an outbox row in the transaction that
-- records it (a trigger, so that no writer can forget it): an event on
-- record is an event to announce, whatever process wrote it and whatever
-- happens to that process next. A dispatcher routes each outbox row to the
-- providers gantry.yaml's routes name (notification_deliveries), once.
CREATE TABLE notification_outbox (
    seq      bigserial PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE, -- audit_events (id): no foreign key, so that the log's own refusals (TRUNCATE) stay its own
    stack    text NOT NULL,
    routed   boolean NOT NULL DEFAULT false
);
CREATE INDEX notification_outbox_unrouted ON notification_outbox (seq) WHERE NOT routed;

CREATE FUNCTION gantry_notification_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notification_outbox (event_id, stack) VALUES (NEW.id, NEW.stack);
    RETURN NEW;
END $$;

CREATE TRIGGER audit_events_outbox AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION gantry_notification_outbox();

-- A delivery of an event to one provider. Its id is the delivery ID sent
-- with every attempt (the idempotency key receivers deduplicate on).
-- Deliveries of one stack to one provider go in outbox order: the queued
-- one of lowest seq goes first, and those after it wait while it is
-- retried; after the last attempt it is dead ('dead': kept, visible, and
-- retried only when someone asks), and the next goes.
CREATE TABLE notification_deliveries (
    id         uuid PRIMARY KEY,
    seq        bigint NOT NULL REFERENCES notification_outbox (seq),
    event_id   uuid NOT NULL,
    stack      text NOT NULL,
    provider   text NOT NULL,
    status     text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'dead')),
    attempts   integer NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at    timestamptz,
    UNIQUE (event_id, provider)
);
CREATE INDEX notification_deliveries_queued ON notification_deliveries (provider, stack, seq) WHERE status = 'queued';

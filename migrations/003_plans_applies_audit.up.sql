-- 003: recorded plans, applies with per-object outcomes, the audit log, and
-- who holds each stack's apply lock.

-- A plan as computed: body is the plan's JSON without its desired manifests
-- (Secret values masked), which are the objects of revision_id (sealed).
-- Plans are immutable once recorded.
CREATE TABLE plans (
    id          uuid PRIMARY KEY,
    stack       text NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,
    revision_id uuid NOT NULL REFERENCES revisions (id),
    digest      text NOT NULL,
    body        jsonb NOT NULL,
    has_changes boolean NOT NULL,
    destructive boolean NOT NULL,
    approximate boolean NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX plans_by_stack ON plans (stack, created_at DESC);

CREATE FUNCTION gantry_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: rows are never changed or removed', TG_TABLE_NAME;
END $$;

CREATE TRIGGER plans_immutable BEFORE UPDATE ON plans
    FOR EACH ROW EXECUTE FUNCTION gantry_refuse_change();

-- One execution of a plan.
CREATE TABLE applies (
    id                   uuid PRIMARY KEY,
    plan_id              uuid NOT NULL REFERENCES plans (id),
    stack                text NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,
    actor                text NOT NULL,
    status               text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    error                text,
    started_at           timestamptz NOT NULL,
    finished_at          timestamptz,
    -- The inventory generation this apply left (NULL while running).
    inventory_generation bigint
);
CREATE INDEX applies_by_stack ON applies (stack, started_at DESC);

-- What an apply did to each object of its plan.
CREATE TABLE apply_outcomes (
    apply_id    uuid NOT NULL REFERENCES applies (id) ON DELETE CASCADE,
    api_group   text NOT NULL,
    kind        text NOT NULL,
    namespace   text NOT NULL,
    name        text NOT NULL,
    action      text NOT NULL,
    outcome     text NOT NULL,
    error       text,
    ready       text,
    duration_ms integer NOT NULL,
    PRIMARY KEY (apply_id, api_group, kind, namespace, name)
);

-- Who did what, when. Append-only, enforced here, not only by convention. No
-- foreign keys: the log outlives the stacks, plans and applies it names.
CREATE TABLE audit_events (
    id       uuid PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    stack    text NOT NULL,
    actor    text NOT NULL,
    kind     text NOT NULL,
    plan_id  uuid,
    apply_id uuid,
    details  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_stack ON audit_events (stack, at);

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION gantry_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION gantry_refuse_change();

-- The holder of a stack's apply lock (a Postgres advisory lock held by one
-- session): who, where, since when, for which plan. A row may outlive its
-- holder when a process dies; the next holder of the advisory lock replaces it.
CREATE TABLE stack_locks (
    stack       text PRIMARY KEY,
    lock_id     uuid NOT NULL UNIQUE,
    holder      text NOT NULL,
    host        text NOT NULL,
    pid         integer NOT NULL,
    backend_pid integer NOT NULL,
    plan_id     uuid,
    since       timestamptz NOT NULL
);

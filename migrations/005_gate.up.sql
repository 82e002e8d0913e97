-- 005: the gate between plan and apply for `gantry run`: which plans wait for
-- a person, and what became of them.

-- One row per plan that reached the gate and was not applied at once. A plan
-- is immutable; its gate row moves: pending -> approved -> applied, or
-- pending -> rejected, or pending/approved -> superseded (a newer plan of the
-- stack replaced it) or stale (the cluster moved before it was applied).
-- An approval is bound to the plan's digest: approved_digest must equal the
-- plan's digest for the engine to apply it.
CREATE TABLE plan_gates (
    plan_id         uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    -- Order of arrival at the gate (clocks may be injected or skewed).
    seq             bigserial NOT NULL UNIQUE,
    stack           text NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,
    status          text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'superseded', 'stale', 'applied')),
    -- Why the plan waits for a person (the policy, and what is destructive).
    reason          text NOT NULL,
    pended_at       timestamptz NOT NULL,
    decided_by      text,
    decided_at      timestamptz,
    decision_reason text,
    approved_digest text,
    CHECK (status <> 'approved' OR approved_digest IS NOT NULL)
);
-- At most one plan per stack waits or is approved at a time.
CREATE UNIQUE INDEX plan_gates_one_open ON plan_gates (stack) WHERE status IN ('pending', 'approved');

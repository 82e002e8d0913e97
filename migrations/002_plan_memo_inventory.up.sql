-- 002: what planning needs from a stack: a salt, the inventory, the no-op memo.

-- salt keys every hash gantry stores about a stack's objects (memo entries),
-- so that a stored hash of a Secret cannot be matched against precomputed
-- hashes of guessed values. 32 bytes from the server's CSPRNG.
ALTER TABLE stacks
    ADD COLUMN salt bytea NOT NULL
        DEFAULT sha256((gen_random_uuid()::text || gen_random_uuid()::text)::bytea)
        CHECK (octet_length(salt) = 32),
    -- inventory_generation increases with every change of the inventory; a
    -- plan records it and is stale once it moved.
    ADD COLUMN inventory_generation bigint NOT NULL DEFAULT 0;

-- The objects a stack applied last: what prune is computed from.
CREATE TABLE inventory_objects (
    stack       text NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,
    api_group   text NOT NULL,
    kind        text NOT NULL,
    namespace   text NOT NULL,
    name        text NOT NULL,
    -- The version the object was applied with, to address it again.
    api_version text NOT NULL,
    PRIMARY KEY (stack, api_group, kind, namespace, name)
);

-- The no-op memo: for an object whose server-side dry-run showed no change,
-- the (salted) hash of the desired manifest and the fingerprint of the live
-- object it was compared with. While both still match, the apply is known to
-- be a no-op and planning it costs no request.
CREATE TABLE plan_memo (
    stack            text  NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,
    api_group        text  NOT NULL,
    kind             text  NOT NULL,
    namespace        text  NOT NULL,
    name             text  NOT NULL,
    desired_hash     bytea NOT NULL CHECK (octet_length(desired_hash) = 32),
    live_fingerprint bytea NOT NULL CHECK (octet_length(live_fingerprint) = 32),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stack, api_group, kind, namespace, name)
);

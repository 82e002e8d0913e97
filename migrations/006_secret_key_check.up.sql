-- 006: which GANTRY_SECRET_KEY the database's Secrets are sealed with.

-- At most one row. check_value is HMAC-SHA256 under GANTRY_SECRET_KEY of
-- "gantry key check v1": it tells a gantry whether its key is the one the
-- database was sealed with, and nothing about the key. No row: no key was
-- ever used here (Secrets are stored as salted hashes). A row without
-- check_value: Secrets were sealed with a key before gantry recorded which;
-- the next gantry started with a key checks it against a sealed value and
-- records it.
CREATE TABLE secret_key_check (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    check_value bytea CHECK (octet_length(check_value) = 32),
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- A database sealed with a key by an older gantry: say so, so that a gantry
-- started without the key refuses to write instead of switching to hashes.
INSERT INTO secret_key_check (check_value)
SELECT NULL
WHERE EXISTS (
    SELECT 1 FROM revision_objects ro JOIN objects o ON o.hash = ro.object_hash
    WHERE ro.api_group = '' AND ro.kind = 'Secret'
      AND position(convert_to('"gantry:aes256gcm:v1:', 'UTF8') IN o.body) > 0
);

-- 004: revision numbers, restores, holds.

-- A short per-stack number for each revision (shop@3), in creation order.
ALTER TABLE revisions ADD COLUMN number integer;
UPDATE revisions r SET number = n.rn
FROM (SELECT id, row_number() OVER (PARTITION BY stack ORDER BY created_at, id) AS rn FROM revisions) n
WHERE r.id = n.id;
ALTER TABLE revisions ALTER COLUMN number SET NOT NULL;
CREATE UNIQUE INDEX revisions_stack_number ON revisions (stack, number);

-- A revision applied by `gantry restore` records the revision it restored.
ALTER TABLE revisions ADD COLUMN restored_from uuid REFERENCES revisions (id) ON DELETE SET NULL;

-- After a restore, a stack is held: Git commits that are not newer than
-- held_against_commit (the commit live before the restore) are not applied
-- until a newer commit is applied or `gantry resume`.
ALTER TABLE stacks
    ADD COLUMN held_revision       uuid REFERENCES revisions (id) ON DELETE RESTRICT,
    ADD COLUMN held_since          timestamptz,
    ADD COLUMN held_against_commit text,
    ADD COLUMN held_by             text;

-- Finding the revision live at a moment: the last succeeded apply.
CREATE INDEX applies_succeeded_by_stack ON applies (stack, finished_at) WHERE status = 'succeeded';

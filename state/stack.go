package state

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// Stack is a stack's row: what planning needs to know about it.
type Stack struct {
	// Name is the stack's name.
	Name string
	// Salt is the stack's random 32 bytes, kept in the database; HashKey
	// derives from it.
	Salt []byte
	// HashKey keys every hash shown or stored about the stack's objects
	// (digests, memo entries, fingerprints): derived from GANTRY_SECRET_KEY
	// and Salt, or Salt itself without GANTRY_SECRET_KEY.
	HashKey object.HashKey
	// InventoryGeneration increases with every change of the inventory.
	InventoryGeneration int64
}

// ErrInventoryMoved is returned (wrapped) by SetInventory when the inventory
// changed since the generation the caller read.
var ErrInventoryMoved = errors.New("inventory changed meanwhile")

const (
	sqlEnsureStackReturning = `
INSERT INTO stacks (name) VALUES ($1)
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING salt, inventory_generation`

	sqlInventory = `
SELECT api_group, kind, namespace, name, api_version FROM inventory_objects
WHERE stack = $1 ORDER BY api_group, kind, namespace, name`

	sqlInventoryGeneration = `SELECT inventory_generation FROM stacks WHERE name = $1 FOR UPDATE`

	sqlBumpInventory = `UPDATE stacks SET inventory_generation = inventory_generation + 1 WHERE name = $1 RETURNING inventory_generation`

	sqlClearInventory = `DELETE FROM inventory_objects WHERE stack = $1`

	sqlPutInventory = `
INSERT INTO inventory_objects (stack, api_group, kind, namespace, name, api_version)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`

	sqlMemo = `
SELECT api_group, kind, namespace, name, desired_hash, live_fingerprint FROM plan_memo WHERE stack = $1`

	sqlPutMemo = `
INSERT INTO plan_memo (stack, api_group, kind, namespace, name, desired_hash, live_fingerprint)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::bytea[])
ON CONFLICT (stack, api_group, kind, namespace, name) DO UPDATE
SET desired_hash = EXCLUDED.desired_hash, live_fingerprint = EXCLUDED.live_fingerprint, updated_at = now()`
)

// ReadStack returns the stack's row without writing anything: a stack not
// recorded yet comes back with a fresh random salt, generation 0, and (for
// Inventory and Memo) nothing, as it would be once created. Pull-request
// plans use it, since they must not change the stack's record.
func (s *Store) ReadStack(ctx context.Context, name string) (*Stack, error) {
	st := &Stack{Name: name}
	err := s.pool.QueryRow(ctx, `SELECT salt, inventory_generation FROM stacks WHERE name = $1`, name).Scan(&st.Salt, &st.InventoryGeneration)
	if errors.Is(err, pgx.ErrNoRows) {
		st.Salt = make([]byte, 32)
		if _, err := rand.Read(st.Salt); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("stack %q: %w", name, err)
	}
	if st.HashKey, err = s.hashKey(st.Salt); err != nil {
		return nil, fmt.Errorf("stack %q: %w", name, err)
	}
	return st, nil
}

// CreateStack records the stack with salt when it is not recorded yet (a
// stack ReadStack made up), and returns its row: the salt is the one given
// unless another writer recorded the stack first.
func (s *Store) CreateStack(ctx context.Context, name string, salt []byte) (*Stack, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO stacks (name, salt) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, salt); err != nil {
		return nil, fmt.Errorf("stack %q: %w", name, err)
	}
	return s.ReadStack(ctx, name)
}

// EnsureStack returns the stack's row, creating it on first use.
func (s *Store) EnsureStack(ctx context.Context, name string) (*Stack, error) {
	st := &Stack{Name: name}
	if err := s.pool.QueryRow(ctx, sqlEnsureStackReturning, name).Scan(&st.Salt, &st.InventoryGeneration); err != nil {
		return nil, fmt.Errorf("stack %q: %w", name, err)
	}
	var err error
	if st.HashKey, err = s.hashKey(st.Salt); err != nil {
		return nil, fmt.Errorf("stack %q: %w", name, err)
	}
	return st, nil
}

// Inventory returns the stack's inventory and its generation.
func (s *Store) Inventory(ctx context.Context, stack string) (int64, []plan.InventoryObject, error) {
	var gen int64
	var objs []plan.InventoryObject
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT inventory_generation FROM stacks WHERE name = $1`, stack).Scan(&gen)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // a stack never recorded has applied nothing
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sqlInventory, stack)
		if err != nil {
			return err
		}
		objs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (plan.InventoryObject, error) {
			var o plan.InventoryObject
			err := row.Scan(&o.Ref.Group, &o.Ref.Kind, &o.Ref.Namespace, &o.Ref.Name, &o.APIVersion)
			return o, err
		})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("inventory of stack %q: %w", stack, ErrNotFound)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("inventory of stack %q: %w", stack, err)
	}
	return gen, objs, nil
}

// SetInventory replaces the stack's inventory if its generation is still
// expect, and returns the new generation; otherwise ErrInventoryMoved.
func (s *Store) SetInventory(ctx context.Context, stack string, expect int64, objs []plan.InventoryObject) (int64, error) {
	var gen int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
		gen, err = setInventory(ctx, tx, stack, expect, objs)
		return err
	})
	return gen, err
}

// setInventory is SetInventory within tx.
func setInventory(ctx context.Context, tx pgx.Tx, stack string, expect int64, objs []plan.InventoryObject) (int64, error) {
	n := len(objs)
	groups, kinds, namespaces, names, versions := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, o := range objs {
		groups[i], kinds[i], namespaces[i], names[i], versions[i] = o.Ref.Group, o.Ref.Kind, o.Ref.Namespace, o.Ref.Name, o.APIVersion
	}
	var current, gen int64
	if err := tx.QueryRow(ctx, sqlInventoryGeneration, stack).Scan(&current); err != nil {
		return 0, fmt.Errorf("set inventory of stack %q: %w", stack, err)
	}
	if current != expect {
		return 0, fmt.Errorf("set inventory of stack %q: %w: generation %d, expected %d", stack, ErrInventoryMoved, current, expect)
	}
	if _, err := tx.Exec(ctx, sqlClearInventory, stack); err != nil {
		return 0, fmt.Errorf("set inventory of stack %q: %w", stack, err)
	}
	if _, err := tx.Exec(ctx, sqlPutInventory, stack, groups, kinds, namespaces, names, versions); err != nil {
		return 0, fmt.Errorf("set inventory of stack %q: %w", stack, err)
	}
	if err := tx.QueryRow(ctx, sqlBumpInventory, stack).Scan(&gen); err != nil {
		return 0, fmt.Errorf("set inventory of stack %q: %w", stack, err)
	}
	return gen, nil
}

// Memo returns the stack's no-op memo.
func (s *Store) Memo(ctx context.Context, stack string) (map[object.Ref]plan.MemoEntry, error) {
	rows, err := s.pool.Query(ctx, sqlMemo, stack)
	if err != nil {
		return nil, fmt.Errorf("memo of stack %q: %w", stack, err)
	}
	out := map[object.Ref]plan.MemoEntry{}
	var ref object.Ref
	var desired, live []byte
	_, err = pgx.ForEachRow(rows, []any{&ref.Group, &ref.Kind, &ref.Namespace, &ref.Name, &desired, &live}, func() error {
		var e plan.MemoEntry
		copy(e.Desired[:], desired)
		copy(e.Live[:], live)
		out[ref] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("memo of stack %q: %w", stack, err)
	}
	return out, nil
}

// PutMemo records memo entries (one statement, whatever their number).
func (s *Store) PutMemo(ctx context.Context, stack string, entries map[object.Ref]plan.MemoEntry) error {
	return putMemo(ctx, s.pool, stack, entries)
}

func putMemo(ctx context.Context, db execer, stack string, entries map[object.Ref]plan.MemoEntry) error {
	if len(entries) == 0 {
		return nil
	}
	n := len(entries)
	groups, kinds, namespaces, names := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	desired, live := make([][]byte, 0, n), make([][]byte, 0, n)
	for ref, e := range entries {
		groups, kinds, namespaces, names = append(groups, ref.Group), append(kinds, ref.Kind), append(namespaces, ref.Namespace), append(names, ref.Name)
		desired, live = append(desired, e.Desired[:]), append(live, e.Live[:])
	}
	if _, err := db.Exec(ctx, sqlPutMemo, stack, groups, kinds, namespaces, names, desired, live); err != nil {
		return fmt.Errorf("record memo of stack %q: %w", stack, err)
	}
	return nil
}

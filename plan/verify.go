package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/ssa"
)

// ErrPlanStale is the error (wrapped by *StaleError) for a plan whose base
// no longer matches the cluster or whose stack inventory moved.
var ErrPlanStale = errors.New("saved plan is stale")

// StaleError says why a plan may no longer be applied.
type StaleError struct {
	// Plan is the plan's ID.
	Plan string
	// Moved are the objects that changed since the plan was computed.
	Moved []Moved
	// Inventory is set when the stack's inventory changed (another apply).
	Inventory string
}

// Moved is one object that changed since planning.
type Moved struct {
	Ref ObjectRef
	Why string
}

func (e *StaleError) Error() string {
	var parts []string
	for _, m := range e.Moved {
		parts = append(parts, fmt.Sprintf("%s %s", m.Ref, m.Why))
	}
	if e.Inventory != "" {
		parts = append(parts, e.Inventory)
	}
	return fmt.Sprintf("%s: plan %s was computed against a cluster that has changed since: %s; run gantry plan again",
		ErrPlanStale, e.Plan, strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrPlanStale) true.
func (e *StaleError) Is(target error) bool { return target == ErrPlanStale }

// Verify checks that the cluster still matches p's base (reading it with one
// LIST per resource) and that the stack's inventory is still at the plan's
// generation. Status-only changes (a Deployment's conditions) do not make a
// plan stale; any change to what an apply depends on does. key is the
// stack's hash key, which the base's fingerprints were computed with.
func Verify(ctx context.Context, c Cluster, p *Plan, key object.HashKey, inventoryGeneration int64) error {
	var items []located
	for _, b := range p.Base {
		res, ok, err := resourceFor(c, b.Ref, b.APIVersion)
		if err != nil {
			return fmt.Errorf("verify plan %s: %s: %w", p.ID, b.Ref, err)
		}
		if ok {
			items = append(items, located{b.Ref, res})
		}
	}
	var lists atomic.Int64
	live, err := readObjects(ctx, c, DefaultPlannerOptions().Concurrency, items, &lists)
	if err != nil {
		return fmt.Errorf("verify plan %s: %w", p.ID, err)
	}
	stale := &StaleError{Plan: p.ID}
	for _, b := range p.Base {
		var fp object.Hash
		if l := live[b.Ref]; l != nil {
			if fp, err = ssa.Fingerprint(key, l); err != nil {
				return err
			}
		}
		now := baseOf(b.Ref, b.APIVersion, live[b.Ref], fp)
		switch {
		case b.Absent && !now.Absent:
			stale.Moved = append(stale.Moved, Moved{b.Ref, "was created"})
		case !b.Absent && now.Absent:
			stale.Moved = append(stale.Moved, Moved{b.Ref, "was deleted"})
		case b.Absent:
		case b.UID != now.UID:
			stale.Moved = append(stale.Moved, Moved{b.Ref, "was deleted and recreated"})
		case b.Fingerprint != now.Fingerprint:
			stale.Moved = append(stale.Moved, Moved{b.Ref, fmt.Sprintf("was changed (resourceVersion %s, now %s)", b.ResourceVersion, now.ResourceVersion)})
		}
	}
	if inventoryGeneration != p.InventoryGeneration {
		stale.Inventory = fmt.Sprintf("the stack's inventory moved from generation %d to %d (another apply ran)", p.InventoryGeneration, inventoryGeneration)
	}
	if len(stale.Moved) > 0 || stale.Inventory != "" {
		return stale
	}
	return nil
}

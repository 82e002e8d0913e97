package engine

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
	"github.com/gantryops/gantry/state"
)

// LoadPlan returns a recorded plan (by ID or an unambiguous prefix), whole:
// its desired manifests come back unsealed (Secrets need GANTRY_SECRET_KEY)
// and it must match its digest.
func (e *Engine) LoadPlan(ctx context.Context, ref string) (*plan.Plan, error) {
	rec, err := e.store.Plan(ctx, ref)
	if errors.Is(err, state.ErrNotFound) {
		return nil, fmt.Errorf("plan %s is not recorded: plans without changes are not kept (there is nothing to apply), and plans from another database are not here: %w", ref, err)
	}
	if err != nil {
		return nil, err
	}
	st, err := e.store.ReadStack(ctx, rec.Stack)
	if err != nil {
		return nil, err
	}
	p, err := planfile.UnmarshalWithDesired(rec.Body, rec.Revision.Objects, st.HashKey)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", rec.ID, err)
	}
	// Recorded with the plan in one transaction. A restore an older gantry
	// recorded has a digest without RestoredFrom: this is what vouches for it.
	if p.RestoredFrom != rec.Revision.RestoredFrom {
		return nil, fmt.Errorf("plan %s: it says it restores revision %q, its recorded revision says %q: the record is damaged; plan again", rec.ID, p.RestoredFrom, rec.Revision.RestoredFrom)
	}
	return p, nil
}

// ReadPlanfile reads a planfile (gantry plan --out) to apply it, checking
// its digest under its stack's hash key, which lives in this database (and
// GANTRY_SECRET_KEY).
func (e *Engine) ReadPlanfile(ctx context.Context, r io.Reader) (*plan.Plan, error) {
	return planfile.Read(r, func(stack string) (object.HashKey, error) {
		st, err := e.store.ReadStack(ctx, stack)
		if err != nil {
			return nil, err
		}
		return st.HashKey, nil
	})
}

// RecordedPlan returns a recorded plan, found by its ID or an unambiguous
// prefix, for showing as it was at plan time. It lacks the desired manifests
// (no key is needed), so it cannot be applied: LoadPlan that.
func (e *Engine) RecordedPlan(ctx context.Context, ref string) (*plan.Plan, error) {
	rec, err := e.store.PlanBody(ctx, ref)
	if err != nil {
		return nil, err
	}
	p, err := planfile.UnmarshalRecorded(rec.Body)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", rec.ID, err)
	}
	return p, nil
}

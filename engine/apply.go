package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
)

// ApplyRequest asks for a plan to be applied.
type ApplyRequest struct {
	// Plan is the plan, whole (desired manifests included).
	Plan *plan.Plan
	// Cluster is the target cluster.
	Cluster Target
	// Actor is who applies (recorded).
	Actor string
	// Approved says a person approved the plan; a destructive plan, and a
	// rollback (plan.Plan.Rollback), are refused without it.
	Approved bool
	// LockTimeout is how long to wait for another apply of the stack.
	LockTimeout time.Duration
	// Options configure the applier.
	Options apply.Options

	// approvalRecorded: the approval is on record already (gantry approve).
	approvalRecorded bool
	// lock is the stack's lock, held by the caller of applyLocked.
	lock StackLock
}

// Apply applies a plan: it takes the stack's lock (recovering the applies
// of dead holders), refuses (before any write,
// and on record) a plan that is stale, approximate, unapproved while
// destructive, or conflicted, records the apply's start, carries it out,
// and records how it ended — outcomes, inventory, memo, audit — in one
// transaction, even when ctx was cancelled.
func (e *Engine) Apply(ctx context.Context, req ApplyRequest) (*apply.Report, error) {
	p := req.Plan
	lock, err := e.lock(ctx, p.Stack, actorOr(req.Actor), p.ID, req.LockTimeout)
	if err != nil {
		return nil, err
	}
	defer e.release(ctx, lock)
	req.lock = lock
	return e.applyLocked(ctx, req)
}

// lock takes the stack's lock (see state.Store.Lock), then closes the
// applies that holders which died left running (state.Lock.RecoverDead):
// the first steps of every sequence that writes, so that it reads the
// inventory those applies left.
func (e *Engine) lock(ctx context.Context, stack, actor, planID string, timeout time.Duration) (StackLock, error) {
	l, err := e.store.Lock(ctx, stack, actor, planID, timeout)
	if err != nil {
		return nil, err
	}
	n, err := l.RecoverDead(ctx)
	if err != nil {
		e.release(ctx, l)
		return nil, err
	}
	if n > 0 {
		e.log.Warn("applies left running by a process that died recorded interrupted", "stack", stack, "applies", n)
	}
	return l, nil
}

// release releases a stack lock, even when ctx was cancelled.
func (e *Engine) release(ctx context.Context, lock StackLock) {
	if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
		e.log.Warn("release lock", "stack", lock.Holder().Stack, "error", err)
	}
}

// applyLocked is Apply for a caller that holds the stack's lock.
func (e *Engine) applyLocked(ctx context.Context, req ApplyRequest) (*apply.Report, error) {
	p, actor := req.Plan, actorOr(req.Actor)
	log := e.log.With("stack", p.Stack, "plan", p.ID)
	// The plan must be on record for its apply to be (a planfile from
	// another database, say). A plan without changes has nothing to apply.
	if !p.HasChanges() {
		return &apply.Report{}, nil
	}
	if err := e.recordPlan(ctx, p, actor); err != nil {
		return nil, err
	}
	st, err := e.store.EnsureStack(ctx, p.Stack)
	if err != nil {
		return nil, err
	}
	gen, inventory, err := e.store.Inventory(ctx, p.Stack)
	if err != nil {
		return nil, err
	}

	applier := apply.New(req.Cluster, req.Options)
	if err := e.checkApply(ctx, req, applier, st.HashKey, gen, actor); err != nil {
		return nil, err
	}
	if req.Approved && !req.approvalRecorded && (len(p.Destructive) > 0 || p.Rollback != "") {
		if err := e.recordApproval(ctx, p, actor); err != nil {
			return nil, err
		}
	}

	// The intent first: every change the apply may make is on record as
	// pending before the first one is made.
	applyID := uuid.NewString()
	if err := e.store.StartApply(ctx, state.ApplyStart{ID: applyID, PlanID: p.ID, Stack: p.Stack, Actor: actor, StartedAt: e.now(), Intent: intent(p)}); err != nil {
		return nil, err
	}
	log.Info("applying", "apply", applyID)
	report, execErr := e.execute(ctx, req, applier, applyID, log)

	finish, err := e.finish(p, applyID, actor, st.HashKey, gen, inventory, report, execErr)
	if err != nil {
		return report, errors.Join(execErr, err)
	}
	// Record the end even when ctx was cancelled (the interruption itself),
	// waiting for the database if it is down.
	if err := e.finishApply(context.WithoutCancel(ctx), finish); err != nil {
		return report, errors.Join(execErr, err)
	}
	log.Info("applied", "apply", applyID, "status", finish.Status)
	return report, execErr
}

// execute carries the plan out with applier: outcomes recorded as they
// come (if they cannot be, the apply stops, interrupted: no change is made
// that cannot be recorded), and every write fenced by the stack's lock
// (once it is not ours, nothing more is written and no new object starts).
func (e *Engine) execute(ctx context.Context, req ApplyRequest, applier *apply.Applier, applyID string, log hclog.Logger) (*apply.Report, error) {
	p, actor := req.Plan, actorOr(req.Actor)
	execCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	rec := newRecorder(e.store, applyID, stop)
	applier.OnOutcome(rec.add)
	applier.SetFence(func(ctx context.Context) error {
		if err := req.lock.Check(ctx); err != nil {
			stop(err)
			return err
		}
		return nil
	})
	report, execErr := applier.Execute(execCtx, p)
	if err := rec.close(); err != nil {
		log.Error("the record of the apply could not be written: apply interrupted", "apply", applyID, "error", err)
		execErr = errors.Join(execErr, fmt.Errorf("%w: %v", errRecordLost, err))
	}
	if cause := context.Cause(execCtx); errors.Is(cause, state.ErrLockLost) {
		execErr = errors.Join(execErr, cause)
		e.lockLost(ctx, log, p, applyID, actor, cause)
	}
	return report, execErr
}

// recordApproval records that actor approved p, destructive or a rollback,
// without the gate (a prompt answered, --auto-approve with
// --allow-destructive or --allow-rollback).
func (e *Engine) recordApproval(ctx context.Context, p *plan.Plan, actor string) error {
	return e.store.Audit(ctx, state.AuditEvent{Stack: p.Stack, Actor: actor, PlanID: p.ID, Data: event.PlanApprovedData{
		Destructive: len(p.Destructive) > 0, DestructiveReasons: p.Destructive, Rollback: p.Rollback}})
}

// intent is every change an apply of p may make, recorded as pending
// before the first one is made.
func intent(p *plan.Plan) []state.Outcome {
	var out []state.Outcome
	for _, c := range p.Changes {
		if c.Action != plan.ActionNoop {
			out = append(out, state.Outcome{Ref: c.Ref, Action: string(c.Action)})
		}
	}
	return out
}

// lockLost logs and audits an apply stopped because the stack's lock was
// lost under it.
func (e *Engine) lockLost(ctx context.Context, log hclog.Logger, p *plan.Plan, applyID, actor string, cause error) {
	log.Error("the stack's lock was lost: stopped writing", "apply", applyID, "error", cause)
	if err := e.store.Audit(context.WithoutCancel(ctx), state.AuditEvent{Stack: p.Stack, Actor: actor, PlanID: p.ID, ApplyID: applyID,
		Data: event.LockLostData{Error: cause.Error()}}); err != nil {
		log.Warn("record the lost lock", "error", err)
	}
}

// checkApply checks, before the first write, that the plan may be applied:
// not against a hold, not a rollback nobody approved (decided again from
// the record, whatever the plan says of it), and what the applier checks
// of the plan itself. A refusal is audited and returned as *RefusedError.
func (e *Engine) checkApply(ctx context.Context, req ApplyRequest, applier *apply.Applier, key object.HashKey, gen int64, actor string) error {
	p := req.Plan
	var checkErr error
	if p.RestoredFrom == "" {
		checkErr = e.heldAgainst(ctx, p)
	}
	if checkErr == nil && !req.Approved {
		if reason, err := e.rollback(ctx, p); err != nil {
			checkErr = err
		} else if reason != "" {
			checkErr = fmt.Errorf("the plan goes back and nobody approved it: %s", reason)
		}
	}
	if checkErr == nil {
		checkErr = applier.Check(ctx, p, key, gen, req.Approved)
	}
	if checkErr == nil {
		return nil
	}
	audit := state.AuditEvent{Stack: p.Stack, Actor: actor, PlanID: p.ID, Data: event.ApplyRefusedData{Error: checkErr.Error()}}
	if aerr := e.store.Audit(context.WithoutCancel(ctx), audit); aerr != nil {
		return errors.Join(checkErr, aerr)
	}
	return &RefusedError{PlanID: p.ID, Err: checkErr}
}

// hookRefs are the plan's hook objects: run, never kept (not in the
// inventory or the memo).
func hookRefs(p *plan.Plan) map[object.Ref]bool {
	hooks := map[object.Ref]bool{}
	for _, u := range p.Desired {
		if plan.IsHook(u) {
			hooks[object.RefOf(u)] = true
		}
	}
	return hooks
}

// inventoryBefore is the inventory an apply's outcomes are added to: the
// plan's objects but its hooks after a success, else the inventory before.
func inventoryBefore(p *plan.Plan, inventory []plan.InventoryObject, succeeded bool, hooks map[object.Ref]bool) map[object.Ref]string {
	inv := map[object.Ref]string{}
	if !succeeded {
		for _, o := range inventory {
			inv[o.Ref] = o.APIVersion
		}
		return inv
	}
	for _, u := range p.Desired {
		if !hooks[object.RefOf(u)] {
			inv[object.RefOf(u)] = u.GetAPIVersion()
		}
	}
	return inv
}

// finishApply records the end of an apply, retrying with backoff while the
// database does not answer (up to Options.FinishRetry): the outcomes are
// written when it returns. If it never does, the apply stays "running" on
// record with its pending and confirmed outcomes, and the next holder of
// the stack's lock marks it interrupted.
func (e *Engine) finishApply(ctx context.Context, f state.ApplyFinish) error {
	deadline := time.Now().Add(e.finishRetry)
	wait := 500 * time.Millisecond
	for {
		_, err := e.store.FinishApply(ctx, f)
		if err == nil {
			return nil
		}
		if e.store.Ping(ctx) == nil || time.Now().After(deadline) {
			return err
		}
		e.log.Warn("database down: retrying the record of the apply's end", "apply", f.ID, "retry_in", wait.String(), "error", err)
		time.Sleep(wait)
		wait = min(2*wait, 10*time.Second)
	}
}

// finish turns a report into the record of the apply's end. The inventory
// becomes the plan's desired objects when everything succeeded (prune
// included; objects whose deletion finalizers hold stay); otherwise it only grows, by every object whose apply was
// attempted (an interrupted request may have reached the server even though
// its answer never came back), so that nothing created is ever forgotten and
// the next plan repairs the rest. An object listed that does not exist is
// simply skipped by prune.
func (e *Engine) finish(p *plan.Plan, applyID, actor string, key object.HashKey, gen int64, inventory []plan.InventoryObject, report *apply.Report, execErr error) (state.ApplyFinish, error) {
	f := state.ApplyFinish{ID: applyID, PlanID: p.ID, Stack: p.Stack, Actor: actor, ExpectGeneration: gen,
		Status: state.ApplySucceeded, Memo: map[object.Ref]plan.MemoEntry{}, FinishedAt: e.now(), Restore: p.RestoredFrom != ""}
	switch {
	case report != nil && report.Interrupted:
		f.Status = state.ApplyInterrupted
	case execErr != nil:
		f.Status = state.ApplyFailed
	}
	if execErr != nil {
		f.Error = execErr.Error()
	}
	manifests := map[object.Ref]int{}
	for i, u := range p.Desired {
		manifests[object.RefOf(u)] = i
	}
	hooks := hookRefs(p)
	inv := inventoryBefore(p, inventory, f.Status == state.ApplySucceeded, hooks)
	if report != nil {
		for _, o := range report.Outcomes {
			f.Outcomes = append(f.Outcomes, stateOutcome(o))
			if o.Hook || hooks[o.Ref] {
				continue
			}
			attempted := o.Action != plan.ActionDelete && (o.Result == apply.ResultApplied || o.Result == apply.ResultReplaced || o.Result == apply.ResultFailed)
			// A delete held by finalizers is not done: the object stays in
			// the inventory, so that the next plan deletes it again.
			if attempted || o.Result == apply.ResultTerminating {
				inv[o.Ref] = o.APIVersion
			}
			if o.Live == nil {
				continue
			}
			i, ok := manifests[o.Ref]
			if !ok {
				continue
			}
			m, err := plan.MemoEntryFor(key, p.Desired[i], o.Live, p.Options.ForceConflicts)
			if err != nil {
				return f, err
			}
			f.Memo[o.Ref] = m
		}
	}
	for ref, version := range inv {
		f.Inventory = append(f.Inventory, plan.InventoryObject{Ref: ref, APIVersion: version})
	}
	return f, nil
}

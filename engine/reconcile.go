package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// ReconcileRequest asks for one reconcile of a stack.
type ReconcileRequest struct {
	// Stack is the stack's definition.
	Stack stack.Stack
	// Cluster is the target cluster; plans are applied through it.
	Cluster Target
	// Reader is what plans read the cluster through (the engine's watch
	// cache); nil reads through Cluster.
	Reader Cluster
	// Actor is who reconciles (recorded).
	Actor string
	// Apply configures the applier.
	Apply apply.Options

	lock StackLock // held by Reconcile for the whole turn
}

// ReconcileResult says what a reconcile did.
type ReconcileResult struct {
	Stack   string
	Outcome gate.Outcome
	// Phase is the step the reconcile ended in.
	Phase Phase
	// Reason explains pending, deferred, held and drift-reported outcomes.
	Reason string
	// Commit is the commit reconciled (empty when fetching failed).
	Commit string
	// Plan is the plan computed or applied; nil when none was.
	Plan *plan.Plan
	// Report is the apply's report when a plan was applied.
	Report *apply.Report
	// PlanDuration and ApplyDuration time the two steps (zero when skipped).
	PlanDuration, ApplyDuration time.Duration
	// Requests counts the API requests of this reconcile (watches excluded).
	Requests int64
	// Drift counts the objects that changed out of band.
	Drift int
	// Repeat: the reconcile found again a refusal already on record (the
	// same plan refused again) and recorded nothing new; the runner logs it
	// at debug level only.
	Repeat bool
}

// Phase is a step of a reconcile. Values are the phase label of
// gantry_reconciles_total: stable.
type Phase string

// Phases, in order.
const (
	PhaseLock   Phase = "lock"
	PhaseRender Phase = "render"
	PhasePlan   Phase = "plan"
	PhaseGate   Phase = "gate"
	PhaseApply  Phase = "apply"
	// PhasePanic: the reconcile panicked (ReconcileResult.Phase and the
	// phase label of gantry_reconciles_total): a bug in gantry that the
	// stack's content or state reached. The log holds the stack trace.
	PhasePanic Phase = "panic"
)

// Reconcile runs the stack's sequence once, holding its lock throughout:
// fetch and render the ref; apply a plan a person approved if it is still
// for this commit and still valid; otherwise plan, record, and pass the
// plan through the gate (gate.Decide: the stack's approval policy, its
// drift policy and its windows) and apply it when the gate opens. A newer
// plan supersedes the one waiting; an approved plan made stale by the
// cluster moving is marked stale and planned again (a destructive re-plan
// waits for approval again). An error (Git, the API server, Postgres)
// returns before anything is applied or pruned: an unreachable source is
// never taken for "no objects".
func (e *Engine) Reconcile(ctx context.Context, req ReconcileRequest) (*ReconcileResult, error) {
	s := req.Stack
	res := &ReconcileResult{Stack: s.Name, Phase: PhaseLock}
	if req.Reader == nil {
		req.Reader = req.Cluster
	}
	before := req.Cluster.Stats()
	defer func() { res.Requests = req.Cluster.Stats().Total - before.Total }()

	lock, err := e.lock(ctx, s.Name, actorOr(req.Actor), "", 0)
	if errors.Is(err, state.ErrLocked) {
		res.Outcome, res.Reason = gate.Locked, err.Error()
		return res, nil
	}
	if err != nil {
		return res, err
	}
	defer e.release(ctx, lock)
	req.lock = lock

	res.Phase = PhaseRender
	src, objects, err := e.renderAgainst(ctx, s, req.Cluster)
	if err != nil {
		return res, err
	}
	res.Commit = src.Commit
	latest, err := e.store.LatestGate(ctx, s.Name)
	if err != nil {
		return res, err
	}
	in := gate.Input{Stack: s, Commit: src.Commit, Latest: latest.Of(), Now: e.now()}
	switch d := gate.Decide(in); d.Step {
	case gate.Stop: // an approved plan a window holds
		res.Phase, res.Outcome, res.Reason = PhaseApply, d.Outcome, d.Reason
		return res, nil
	case gate.ApplyApproved:
		res.Phase = PhaseApply
		moved, err := e.applyApproved(ctx, req, latest, res)
		if !moved || err != nil {
			return res, err
		}
		in.Moved = true
	}

	// Plan; retry once when the apply finds the plan stale (the watch
	// cache had not seen a change yet).
	for attempt := 0; ; attempt++ {
		err := e.planAndGate(ctx, req, src, objects, in, res)
		if errors.Is(err, plan.ErrPlanStale) && attempt == 0 {
			e.log.Debug("plan stale at apply, planning again", "stack", s.Name, "error", err)
			if latest, err = e.store.LatestGate(ctx, s.Name); err != nil {
				return res, err
			}
			in.Latest, in.Moved = latest.Of(), false
			continue
		}
		return res, err
	}
}

// applyApproved applies the stack's approved plan (g). moved is true when
// the plan turned out stale (marked so, with an event): the caller plans
// again.
func (e *Engine) applyApproved(ctx context.Context, req ReconcileRequest, g *state.Gate, res *ReconcileResult) (moved bool, err error) {
	s := req.Stack
	p, err := e.LoadPlan(ctx, g.PlanID)
	if err != nil {
		return false, err
	}
	if p.Digest != g.ApprovedDigest {
		return false, fmt.Errorf("plan %s: its digest %s is not the one approved (%s): refusing to apply it", p.ID, p.Digest, g.ApprovedDigest)
	}
	res.Plan = p
	approver := fmt.Sprintf("%s (approved by %s)", actorOr(req.Actor), g.DecidedBy)
	started := time.Now()
	report, err := e.applyLocked(ctx, ApplyRequest{Plan: p, Cluster: req.Cluster, Actor: approver, Approved: true, Options: req.Apply, approvalRecorded: true, lock: req.lock})
	res.ApplyDuration = time.Since(started)
	if errors.Is(err, plan.ErrPlanStale) {
		why := "the cluster changed after approval: " + err.Error()
		if _, cerr := e.store.CloseGate(ctx, p.ID, gate.StatusApproved, gate.StatusStale, actorOr(req.Actor), why, e.now()); cerr != nil {
			return false, cerr
		}
		e.log.Info("approved plan is stale, planning again", "stack", s.Name, "plan", p.ID)
		return true, nil
	}
	var refused *RefusedError
	if errors.As(err, &refused) {
		// Nothing was applied: the approval is spent (a superseded plan
		// cannot be approved again), and the same plan is not retried.
		e.remember(p, refused)
		res.Outcome, res.Reason = gate.Refused, fmt.Sprintf("approved plan %s cannot be applied: nothing was changed", p.ID)
		why := "refused at apply, nothing was changed: " + refused.Err.Error()
		return false, errors.Join(err, e.store.Supersede(context.WithoutCancel(ctx), s.Name, "", actorOr(req.Actor), why, e.now()))
	}
	if _, cerr := e.store.CloseGate(context.WithoutCancel(ctx), p.ID, gate.StatusApproved, gate.StatusApplied, actorOr(req.Actor), "", e.now()); cerr != nil {
		return false, errors.Join(err, cerr)
	}
	res.Outcome, res.Report = gate.Applied, report
	return false, err
}

// planAndGate plans the rendered revision, takes the plan through the gate
// and carries the decision out. It returns plan.ErrPlanStale (nothing
// applied) when the apply found the plan stale, for the caller to plan
// again.
func (e *Engine) planAndGate(ctx context.Context, req ReconcileRequest, src plan.Source, objects []*unstructured.Unstructured, in gate.Input, res *ReconcileResult) error {
	s, actor := req.Stack, actorOr(req.Actor)
	res.Phase = PhasePlan
	// A watch cache whose watch is broken (the API server is down or
	// restarting) may hold an old state: fail, to be retried and reported,
	// rather than call that state unchanged.
	if w, ok := req.Reader.(interface{ Err() error }); ok {
		if err := w.Err(); err != nil {
			return fmt.Errorf("the API server cannot be watched, so the live state may be out of date: %w", err)
		}
	}
	p, err := e.computePlan(ctx, PlanRequest{Stack: s, Cluster: req.Reader, Actor: actor, locked: true}, src, objects, "")
	if err != nil {
		return err
	}
	res.Plan, res.PlanDuration = p, p.Stats.Duration
	_, res.Drift = gate.DriftOnly(p)
	res.Phase = PhaseGate
	in.Plan, in.Now = p, e.now()
	in.LastRefused, in.LastReported = e.memory(s.Name)
	d := gate.Decide(in)
	res.Outcome, res.Reason = d.Outcome, d.Reason
	if d.HidePlan {
		res.Plan = nil
	}
	if err := e.carryOut(ctx, p, actor, d, res); err != nil || d.Step != gate.ApplyPlan {
		return err
	}
	return e.applyGated(ctx, req, p, d.Approved, res)
}

// carryOut records what the gate decided of p, and remembers the plans
// refused or reported.
func (e *Engine) carryOut(ctx context.Context, p *plan.Plan, actor string, d gate.Decision, res *ReconcileResult) error {
	if d.Repeat {
		res.Repeat = true
		if refused := e.refusedBefore(p); refused != nil {
			return refused
		}
		return fmt.Errorf("plan %s: %s", p.ID, d.Reason)
	}
	if d.ForgetRefusal {
		e.remember(p, nil)
	}
	var refused *RefusedError
	if len(d.Refuse) > 0 {
		refused = &RefusedError{PlanID: p.ID, Err: &apply.KnownFailuresError{Failures: d.Refuse}}
	}
	if err := e.record(ctx, p, actor, d, refused); err != nil {
		if refused != nil {
			return errors.Join(refused, err)
		}
		return err
	}
	switch {
	case refused != nil:
		e.remember(p, refused)
		return refused
	case d.Report:
		e.mu.Lock()
		e.reported[p.Stack] = p.Digest
		e.mu.Unlock()
	case d.Pend != "":
		e.log.Info("plan waits for approval", "stack", p.Stack, "plan", p.ID, "reason", d.Pend)
	}
	return nil
}

// record writes what d records of p, in one transaction and in order: the
// plan, the open plan superseded, the plan pending, the event (a
// refusal's with its error).
func (e *Engine) record(ctx context.Context, p *plan.Plan, actor string, d gate.Decision, refused *RefusedError) error {
	r := state.GateRecord{Stack: p.Stack, Actor: actor, At: e.now(), PlanID: p.ID, Pend: d.Pend, Event: d.Event}
	if d.Record {
		if !p.HasChanges() {
			return fmt.Errorf("plan %s: the gate recorded a plan without changes (a bug in gantry)", p.ID)
		}
		rec, err := e.planRecord(ctx, p, actor)
		if err != nil {
			return err
		}
		r.Plan = rec
	}
	if d.Supersede != nil {
		r.Supersede, r.KeepPlan = d.Supersede.Why, d.Supersede.Keep
	}
	if refused != nil {
		r.Event = event.ApplyRefusedData{Error: refused.Err.Error()}
	}
	return e.store.RecordGate(ctx, r)
}

// applyGated applies a plan the gate let through. A refusal (nothing was
// changed) is outcome refused, and remembered so that the same plan is not
// recorded again; a stale plan returns plan.ErrPlanStale for the caller to
// plan again.
func (e *Engine) applyGated(ctx context.Context, req ReconcileRequest, p *plan.Plan, approved bool, res *ReconcileResult) error {
	res.Phase = PhaseApply
	started := time.Now()
	report, err := e.applyLocked(ctx, ApplyRequest{Plan: p, Cluster: req.Cluster, Actor: actorOr(req.Actor), Approved: approved, Options: req.Apply, lock: req.lock})
	res.ApplyDuration = time.Since(started)
	var refused *RefusedError
	switch {
	case errors.Is(err, plan.ErrPlanStale):
		return err
	case errors.As(err, &refused):
		res.Outcome, res.Reason = gate.Refused, fmt.Sprintf("plan %s cannot be applied: nothing was changed", p.ID)
		e.remember(p, refused)
		return err
	}
	res.Outcome, res.Report = gate.Applied, report
	return err
}

// renderAgainst renders s as a reconcile plans it: a chart with the
// cluster's capabilities.
func (e *Engine) renderAgainst(ctx context.Context, s stack.Stack, c Cluster) (plan.Source, []*unstructured.Unstructured, error) {
	opts := renderOptions(s)
	if err := capabilities(ctx, PlanRequest{Cluster: c, Mode: plan.DiffAuto}, opts.Helm); err != nil {
		return plan.Source{}, nil, err
	}
	return e.render(ctx, s, opts, true)
}

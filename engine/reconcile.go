package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// Outcome is how a reconcile ended. Values appear in metrics and the API:
// stable.
type Outcome string

// Reconcile outcomes.
const (
	// OutcomeUnchanged: the cluster matches the revision.
	OutcomeUnchanged Outcome = "unchanged"
	// OutcomeApplied: a plan was applied (see the report for how it went).
	OutcomeApplied Outcome = "applied"
	// OutcomePending: a plan waits for approval.
	OutcomePending Outcome = "pending"
	// OutcomeDeferred: the plan may be applied, but a window holds it.
	OutcomeDeferred Outcome = "deferred"
	// OutcomeDriftReported: the plan only undoes drift, and the stack's
	// drift policy is report: recorded, not applied.
	OutcomeDriftReported Outcome = "drift-reported"
	// OutcomeRejected: the plan is one a person rejected; nothing is done
	// until a commit or the cluster changes it.
	OutcomeRejected Outcome = "rejected"
	// OutcomeRefused: the plan cannot be applied as it is (changes known to
	// fail, such as objects another stack owns; a rollback nobody
	// approved; ...): nothing was applied, and the reconcile fails with the
	// reason. The refusal is recorded once per plan; the same plan computed
	// again is refused again without a new record, until a commit or a
	// change in the cluster makes a new plan.
	OutcomeRefused Outcome = "refused"
	// OutcomeHeld: the stack is held after a restore.
	OutcomeHeld Outcome = "held"
	// OutcomeLocked: another process holds the stack's lock (it is
	// reconciling or applying the stack); nothing was done.
	OutcomeLocked Outcome = "locked"
	// OutcomeFailed: an error stopped the reconcile.
	OutcomeFailed Outcome = "failed"
)

// ReconcileRequest asks for one reconcile of a stack.
type ReconcileRequest struct {
	// Stack is the stack's definition.
	Stack stack.Stack
	// Cluster is the target cluster; plans are applied through it.
	Cluster *kube.Cluster
	// Reader is what plans read the cluster through (the engine's watch
	// cache); nil reads through Cluster.
	Reader Cluster
	// Actor is who reconciles (recorded).
	Actor string
	// Apply configures the applier.
	Apply apply.Options

	lock *state.Lock // held by Reconcile for the whole turn
}

// ReconcileResult says what a reconcile did.
type ReconcileResult struct {
	Stack   string
	Outcome Outcome
	// Phase is the step the reconcile ended in: lock, render, plan, gate or
	// apply.
	Phase string
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

// Reconcile runs the stack's sequence once, holding its lock throughout:
// fetch and render the ref; apply a plan a person approved if it is still
// for this commit and still valid; otherwise plan, record, and pass the
// plan through the gate — the stack's approval policy, its drift policy and
// its windows — and apply it when the gate opens. A newer plan supersedes
// the one waiting; an approved plan made stale by the cluster moving is
// marked stale and planned again (a destructive re-plan waits for approval
// again). An error (Git, the API server, Postgres) returns before anything
// is applied or pruned: an unreachable source is never taken for "no
// objects".
func (e *Engine) Reconcile(ctx context.Context, req ReconcileRequest) (*ReconcileResult, error) {
	s := req.Stack
	res := &ReconcileResult{Stack: s.Name, Phase: "lock"}
	if req.Reader == nil {
		req.Reader = req.Cluster
	}
	before := req.Cluster.Stats()
	defer func() { res.Requests = req.Cluster.Stats().Total - before.Total }()

	lock, err := e.store.Lock(ctx, s.Name, actorOr(req.Actor), "", 0)
	if errors.Is(err, state.ErrLocked) {
		res.Outcome, res.Reason = OutcomeLocked, err.Error()
		return res, nil
	}
	if err != nil {
		return res, err
	}
	defer e.release(ctx, lock)
	req.lock = lock

	res.Phase = "render"
	src, objects, err := e.render(ctx, s, renderOptions(s), true)
	if err != nil {
		return res, err
	}
	res.Commit = src.Commit
	gate, err := e.store.LatestGate(ctx, s.Name)
	if err != nil {
		return res, err
	}
	if gate != nil && gate.Status == state.GateApproved && gate.Commit == src.Commit {
		res.Phase = "apply"
		done, err := e.applyApproved(ctx, req, gate, res)
		if done || err != nil {
			return res, err
		}
	}

	// Plan; retry once when the apply finds the plan stale (the watch
	// cache had not seen a change yet).
	for attempt := 0; ; attempt++ {
		err := e.planAndGate(ctx, req, src, objects, gate, res)
		if errors.Is(err, plan.ErrPlanStale) && attempt == 0 {
			e.log.Debug("plan stale at apply, planning again", "stack", s.Name, "error", err)
			if gate, err = e.store.LatestGate(ctx, s.Name); err != nil {
				return res, err
			}
			continue
		}
		return res, err
	}
}

// applyApproved applies the stack's approved plan. done is false when the
// plan turned out stale (marked so, with an audit event): the caller plans
// again. A closed window defers it (done).
func (e *Engine) applyApproved(ctx context.Context, req ReconcileRequest, gate *state.Gate, res *ReconcileResult) (done bool, err error) {
	s := req.Stack
	if ok, why := s.ApplyAllowed(e.now()); !ok {
		res.Outcome, res.Reason = OutcomeDeferred, fmt.Sprintf("approved plan %s waits: %s", gate.PlanID, why)
		return true, nil
	}
	p, err := e.LoadPlan(ctx, gate.PlanID)
	if err != nil {
		return true, err
	}
	if p.Digest != gate.ApprovedDigest {
		return true, fmt.Errorf("plan %s: its digest %s is not the one approved (%s): refusing to apply it", p.ID, p.Digest, gate.ApprovedDigest)
	}
	res.Plan = p
	approver := fmt.Sprintf("%s (approved by %s)", actorOr(req.Actor), gate.DecidedBy)
	started := time.Now()
	report, err := e.applyLocked(ctx, ApplyRequest{Plan: p, Cluster: req.Cluster, Actor: approver, Approved: true, Options: req.Apply, approvalRecorded: true, lock: req.lock})
	res.ApplyDuration = time.Since(started)
	if errors.Is(err, plan.ErrPlanStale) {
		why := "the cluster changed after approval: " + err.Error()
		if _, cerr := e.store.CloseGate(ctx, p.ID, state.GateApproved, state.GateStale, actorOr(req.Actor), why, e.now()); cerr != nil {
			return true, cerr
		}
		e.log.Info("approved plan is stale, planning again", "stack", s.Name, "plan", p.ID)
		return false, nil
	}
	var refused *RefusedError
	if errors.As(err, &refused) {
		// Nothing was applied: the approval is spent (a superseded plan
		// cannot be approved again), and the same plan is not retried.
		e.remember(p, refused)
		res.Outcome, res.Reason = OutcomeRefused, fmt.Sprintf("approved plan %s cannot be applied: nothing was changed", p.ID)
		why := "refused at apply, nothing was changed: " + refused.Err.Error()
		return true, errors.Join(err, e.store.Supersede(context.WithoutCancel(ctx), s.Name, "", actorOr(req.Actor), why, e.now()))
	}
	if _, cerr := e.store.CloseGate(context.WithoutCancel(ctx), p.ID, state.GateApproved, state.GateApplied, actorOr(req.Actor), "", e.now()); cerr != nil {
		return true, errors.Join(err, cerr)
	}
	res.Outcome, res.Report = OutcomeApplied, report
	return true, err
}

// planAndGate plans the rendered revision and takes the plan through the
// gate. gate is the stack's newest plan at the gate, if any. It
// returns plan.ErrPlanStale (nothing applied) when the apply found the plan
// stale, for the caller to plan again.
func (e *Engine) planAndGate(ctx context.Context, req ReconcileRequest, src plan.Source, objects []*unstructured.Unstructured, gate *state.Gate, res *ReconcileResult) error {
	s, actor := req.Stack, actorOr(req.Actor)
	res.Phase = "plan"
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
	res.Plan, res.PlanDuration, res.Outcome, res.Reason = p, p.Stats.Duration, "", ""
	only, drifted := driftOnly(p)
	res.Drift, res.Phase = drifted, "gate"
	switch {
	case p.Held != "":
		res.Outcome, res.Reason = OutcomeHeld, p.Held
		return nil
	case !p.HasChanges():
		res.Outcome = OutcomeUnchanged
		if gate.Open() {
			return e.store.Supersede(ctx, s.Name, "", actor, fmt.Sprintf("the cluster matches commit %s: nothing left to apply", object.ShortSHA(src.Commit)), e.now())
		}
		return nil
	case gate != nil && gate.Digest == p.Digest && gate.Status == state.GateRejected:
		// A person said no to exactly this; ask again only when something
		// changes (a commit, or the cluster).
		res.Outcome, res.Reason, res.Plan = OutcomeRejected, fmt.Sprintf("plan %s doing exactly this was rejected by %s", gate.PlanID, gate.DecidedBy), nil
		return nil
	case gate.Open() && gate.Digest == p.Digest:
		// The same plan still waits (for a person, or approved for its window).
		res.Outcome, res.Reason = OutcomePending, fmt.Sprintf("plan %s waits: %s", gate.PlanID, gate.Reason)
		if gate.Status == state.GateApproved {
			res.Outcome, res.Reason = OutcomeDeferred, fmt.Sprintf("approved plan %s waits for commit %s", gate.PlanID, object.ShortSHA(gate.Commit))
		}
		res.Plan = nil
		return nil
	case only && s.Drift == stack.DriftReport:
		res.Outcome, res.Reason = OutcomeDriftReported, fmt.Sprintf("%d object(s) changed out of band; drift: report applies nothing", drifted)
		return e.recordOnce(ctx, p, actor, gate, state.AuditDriftDetected, map[string]any{"drifted": driftedRefs(p)})
	}
	if done, err := e.refuse(ctx, p, actor, gate, res); done {
		return err
	}
	if err := e.recordPlan(ctx, p, actor); err != nil {
		return err
	}
	if why := approvalReason(s, p); why != "" {
		if err := e.store.Pend(ctx, p.ID, s.Name, why, actor, e.now()); err != nil {
			return err
		}
		res.Outcome, res.Reason = OutcomePending, why
		e.log.Info("plan waits for approval", "stack", s.Name, "plan", p.ID, "reason", why)
		return nil
	}
	if gate.Open() {
		if err := e.store.Supersede(ctx, s.Name, p.ID, actor, "superseded by plan "+p.ID, e.now()); err != nil {
			return err
		}
	}
	if ok, why := s.ApplyAllowed(e.now()); !ok {
		res.Outcome, res.Reason = OutcomeDeferred, why
		return e.recordOnce(ctx, p, actor, nil, state.AuditApplyDeferred, map[string]any{"reason": why})
	}
	return e.applyGated(ctx, req, p, res)
}

// applyGated applies a plan the gate let through. A refusal (nothing was
// changed) is outcome refused, and remembered so that the same plan is not
// recorded again; a stale plan returns plan.ErrPlanStale for the caller to
// plan again.
func (e *Engine) applyGated(ctx context.Context, req ReconcileRequest, p *plan.Plan, res *ReconcileResult) error {
	s := req.Stack
	res.Phase = "apply"
	started := time.Now()
	report, err := e.applyLocked(ctx, ApplyRequest{Plan: p, Cluster: req.Cluster, Actor: actorOr(req.Actor), Approved: s.Approval == stack.ApprovalAuto, Options: req.Apply, lock: req.lock})
	res.ApplyDuration = time.Since(started)
	var refused *RefusedError
	switch {
	case errors.Is(err, plan.ErrPlanStale):
		return err
	case errors.As(err, &refused):
		res.Outcome, res.Reason = OutcomeRefused, fmt.Sprintf("plan %s cannot be applied: nothing was changed", p.ID)
		e.remember(p, refused)
		return err
	}
	res.Outcome, res.Report = OutcomeApplied, report
	return err
}

// recordOnce records a plan that is not applied (drift reported, or
// deferred by a window) with an audit event of kind, once per stack and
// plan digest while this engine runs: a stack reconciled every few minutes
// would otherwise record the same plan again and again.
func (e *Engine) recordOnce(ctx context.Context, p *plan.Plan, actor string, gate *state.Gate, kind state.AuditKind, details map[string]any) error {
	e.mu.Lock()
	seen := e.reported[p.Stack] == p.Digest
	e.mu.Unlock()
	if seen {
		return nil
	}
	if err := e.recordPlan(ctx, p, actor); err != nil {
		return err
	}
	if gate.Open() {
		if err := e.store.Supersede(ctx, p.Stack, p.ID, actor, "superseded by plan "+p.ID, e.now()); err != nil {
			return err
		}
	}
	if err := e.store.Audit(ctx, state.AuditEvent{Stack: p.Stack, Actor: actor, Kind: kind, PlanID: p.ID, Details: details}); err != nil {
		return err
	}
	e.mu.Lock()
	e.reported[p.Stack] = p.Digest
	e.mu.Unlock()
	return nil
}

func driftedRefs(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Drift && c.Action != plan.ActionNoop {
			out = append(out, c.Ref.String())
		}
	}
	return out
}

// driftOnly reports whether every change of p undoes an out-of-band change
// (the revision did not change), and how many objects drifted.
func driftOnly(p *plan.Plan) (only bool, drifted int) {
	only = true
	for _, c := range p.Changes {
		if c.Action == plan.ActionNoop {
			continue
		}
		if c.Drift {
			drifted++
		} else {
			only = false
		}
	}
	return only && drifted > 0, drifted
}

// approvalReason says why p waits for a person, or "": a rollback on a
// stack that verifies signatures, whatever its policy; then the policy.
func approvalReason(s stack.Stack, p *plan.Plan) string {
	switch {
	case p.Rollback != "":
		return "rollback: " + p.Rollback
	case s.Approval == stack.ApprovalManual:
		return "approval: manual (every plan waits for a person)"
	case s.Approval == stack.ApprovalAutoUnlessDestructive && len(p.Destructive) > 0:
		return "destructive: " + strings.Join(p.Destructive, "; ")
	}
	return ""
}

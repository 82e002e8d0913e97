package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
	"github.com/gantryops/gantry/sensitive"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// Engine runs stacks against one database.
type Engine struct {
	store   Record
	fetcher Source
	charts  Charts
	arts    Artifacts
	log     hclog.Logger
	planner plan.PlannerOptions
	now     func() time.Time
	// finishRetry bounds the wait for the database to record an apply's end.
	finishRetry time.Duration

	mu       sync.Mutex
	reported map[string]string  // stack -> digest of the last plan recorded without applying
	refused  map[string]refusal // stack -> the last plan whose apply was refused
}

// Options configures an Engine.
type Options struct {
	// Logger receives the engine's log lines; nil discards them.
	Logger hclog.Logger
	// Now is the clock plans and applies are timed by; tests inject one.
	Now func() time.Time
	// FinishRetry is how long the end of an apply is retried while the
	// database is down (default 2 minutes).
	FinishRetry time.Duration
	// Charts fetches the charts of stacks whose source is a Helm
	// repository (nil: such stacks fail to render, saying so).
	Charts Charts
	// Artifacts fetches the OCI artifacts of stacks whose source is one
	// (nil: such stacks fail to render, saying so).
	Artifacts Artifacts
}

// New returns an Engine over the record in st and Git through fetcher.
func New(st *state.Store, fetcher *source.Fetcher, opts Options) *Engine {
	return NewWith(store{st}, fetcher, opts)
}

// NewWith returns an Engine over any record and source (tests).
func NewWith(rec Record, src Source, opts Options) *Engine {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	planner := plan.DefaultPlannerOptions()
	planner.Now = now
	retry := opts.FinishRetry
	if retry <= 0 {
		retry = 2 * time.Minute
	}
	return &Engine{store: rec, fetcher: src, charts: opts.Charts, arts: opts.Artifacts, log: log.Named("engine"), planner: planner, now: now, reported: map[string]string{}, refused: map[string]refusal{}, finishRetry: retry}
}

// Cluster is what planning reads the cluster through.
type Cluster interface {
	plan.Cluster
	// Host names the API server.
	Host() string
	// Stats counts the requests sent so far.
	Stats() kube.Stats
}

// PlanRequest asks for a plan of one stack.
type PlanRequest struct {
	// Stack is the stack's definition.
	Stack stack.Stack
	// Cluster is the target cluster: a *kube.Cluster, or the *kube.Cache
	// of `gantry run`.
	Cluster Cluster
	// Mode is the diff mode (default DiffAuto).
	Mode plan.DiffMode
	// Actor is who asks (recorded in the audit log).
	Actor string
	// ReadOnly plans without writing anything to the database: no memo
	// entries, no recorded plan, not even the stack's row (a pull-request
	// plan must not change the stack's record).
	ReadOnly bool
	// Untrusted renders with source.UntrustedRenderOptions whatever the
	// stack allows (a branch anyone may push to).
	Untrusted bool

	// locked: the caller holds the stack's lock, whose taking already
	// closed the applies of dead processes.
	locked bool
}

// Plan fetches and renders the stack's revision and plans it against the
// cluster with the stack's inventory and memo, then records the memo entries
// the plan proved. It changes nothing in the cluster.
func (e *Engine) Plan(ctx context.Context, req PlanRequest) (*plan.Plan, error) {
	opts := renderOptions(req.Stack)
	if req.Untrusted {
		chart := opts.Helm // the operator's gantry.yaml, not the branch
		opts = source.UntrustedRenderOptions()
		opts.Helm = chart
		if b := req.Stack.Source.MaxRenderBytes; b > 0 {
			opts.MaxRenderBytes = b // the operator's gantry.yaml, not the branch
		}
	}
	if err := capabilities(ctx, req, opts.Helm); err != nil {
		return nil, err
	}
	src, objects, err := e.render(ctx, req.Stack, opts, !req.ReadOnly)
	if err != nil {
		return nil, err
	}
	if req.ReadOnly {
		return e.computePlan(ctx, req, src, objects, "")
	}
	return e.PlanRevision(ctx, req, src, objects)
}

// PlanRevision plans objects (a revision already rendered, or loaded from
// history) for the stack, as Plan does after rendering.
func (e *Engine) PlanRevision(ctx context.Context, req PlanRequest, src plan.Source, objects []*unstructured.Unstructured) (*plan.Plan, error) {
	return e.planRevision(ctx, req, src, objects, "")
}

func (e *Engine) planRevision(ctx context.Context, req PlanRequest, src plan.Source, objects []*unstructured.Unstructured, restoredFrom string) (*plan.Plan, error) {
	p, err := e.computePlan(ctx, req, src, objects, restoredFrom)
	if err != nil {
		return nil, err
	}
	if err := e.recordPlan(ctx, p, req.Actor); err != nil {
		return nil, err
	}
	return p, nil
}

// computePlan plans objects and records the memo entries the plan proved,
// but not the plan itself. It sets src.Digest: the revision's digest under
// the stack's hash key.
func (e *Engine) computePlan(ctx context.Context, req PlanRequest, src plan.Source, objects []*unstructured.Unstructured, restoredFrom string) (*plan.Plan, error) {
	s := req.Stack
	if !req.ReadOnly && !req.locked {
		if err := e.store.RecoverDead(ctx, s.Name, actorOr(req.Actor)); err != nil {
			return nil, err
		}
	}
	// Read, not create: a plan that fails leaves no trace of the stack.
	st, err := e.store.ReadStack(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	gen, inventory, err := e.store.Inventory(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	if src.Digest, err = revisionDigest(st.HashKey, src.Commit, objects); err != nil {
		return nil, err
	}
	if src.Values, err = valuesDigest(st.HashKey, s); err != nil {
		return nil, err
	}
	// Every mode reads the memo: auto skips what it proves unchanged, and all
	// modes use it to tell drift (live moved while the desired state did not).
	memo, err := e.store.Memo(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	before := req.Cluster.Stats()
	res, err := plan.NewPlanner(req.Cluster, e.planner).Compute(ctx, plan.Input{
		Stack:               s.Name,
		Source:              src,
		ClusterName:         req.Cluster.Host(),
		Objects:             objects,
		Inventory:           inventory,
		InventoryGeneration: gen,
		Memo:                memo,
		Key:                 st.HashKey,
		Options:             planOptions(s),
		Mode:                req.Mode,
		RestoredFrom:        restoredFrom,
	})
	if err != nil {
		return nil, fmt.Errorf("plan stack %s: %w", s.Name, err)
	}
	res.Plan.Stats.Requests = req.Cluster.Stats().Total - before.Total
	if err := e.annotate(ctx, req, res.Plan, restoredFrom); err != nil {
		return nil, err
	}
	if !req.ReadOnly {
		again, err := e.recordStack(ctx, st, res.Memo)
		if err != nil {
			return nil, err
		}
		if again {
			return e.computePlan(ctx, req, src, objects, restoredFrom)
		}
	}
	e.log.Debug("planned", "stack", s.Name, "plan", res.Plan.ID, "dry_runs", res.Plan.Stats.DryRuns, "memo_hits", res.Plan.Stats.MemoHits, "lists", res.Plan.Stats.Lists)
	return res.Plan, nil
}

// planOptions are the stack's policies a plan follows.
func planOptions(s stack.Stack) plan.Options {
	return plan.Options{
		Namespace:       s.Target.Namespace,
		Prune:           s.Prune,
		MaxPrunePercent: s.MaxPrunePercent,
		AllowEmpty:      s.AllowEmpty,
		ForceConflicts:  s.ForceConflicts,
		VerifiedSource:  s.Verify != nil,
		Sensitive:       s.Sensitive,
	}
}

// revisionDigest is the keyed digest of objects rendered from commit, as
// plans show it.
func revisionDigest(key object.HashKey, commit string, objects []*unstructured.Unstructured) (string, error) {
	rev, err := source.NewRevision(commit, objects)
	if err != nil {
		return "", err
	}
	digest, err := rev.Digest(key)
	if err != nil {
		return "", err
	}
	return digest.Keyed(), nil
}

// recordStack records the stack planned with st (ReadStack's row, made up
// for a stack never recorded) and the memo entries its plan proved. again
// is true when another writer recorded the stack first with another salt:
// the plan's digest, memo entries and fingerprints are keyed by the salt,
// so they are worthless, and the caller plans again with the recorded one.
func (e *Engine) recordStack(ctx context.Context, st *state.Stack, memo map[object.Ref]plan.MemoEntry) (again bool, err error) {
	recorded, err := e.store.CreateStack(ctx, st.Name, st.Salt)
	if err != nil {
		return false, err
	}
	if !bytes.Equal(recorded.Salt, st.Salt) {
		return true, nil
	}
	return false, e.store.PutMemo(ctx, st.Name, memo)
}

// annotate adds to p what the stack's record says about it: the commit
// applied now (base → head), and for a plan of the Git ref (not a
// restore) the hold after a restore and the rollback rule.
func (e *Engine) annotate(ctx context.Context, req PlanRequest, p *plan.Plan, restoredFrom string) error {
	var err error
	if p.BaseCommit, err = e.store.LiveCommit(ctx, p.Stack); err != nil {
		return err
	}
	if restoredFrom != "" {
		return nil
	}
	if err := e.heldAgainst(ctx, p); err != nil {
		p.Held = err.Error()
	}
	// Reviews plan branches that are not applied: the rule is the gate's.
	if !req.ReadOnly {
		p.Rollback, err = e.rollback(ctx, p)
	}
	return err
}

// verify checks the commit's signature against the stack's keys. A refusal
// is recorded (commit.refused) before it is returned: nothing of the commit
// is rendered, and whatever revision is applied stays applied.
func (e *Engine) verify(ctx context.Context, s stack.Stack, c *source.Commit) error {
	keys, err := os.ReadFile(s.Verify.Keys)
	if err != nil {
		return fmt.Errorf("stack %s: verify.keys: %w", s.Name, err)
	}
	verify := c.VerifySignature
	if s.Verify.Mode == "tag" {
		verify = c.VerifyTagSignature
	}
	signer, err := verify(source.SignatureProvider(s.Verify.Provider), keys)
	if err != nil {
		if aerr := e.store.Audit(ctx, state.AuditEvent{Stack: s.Name, Actor: "gantry", Data: event.CommitRefusedData{Commit: c.SHA, Error: err.Error()}}); aerr != nil {
			return errors.Join(err, aerr)
		}
		return fmt.Errorf("stack %s: %w", s.Name, err)
	}
	e.log.Debug("commit signature verified", "stack", s.Name, "commit", c.SHA, "signer", signer)
	return nil
}

// recordPlan stores a plan with changes (its desired manifests as a sealed
// revision) with a plan.created audit event; recording it twice changes
// nothing. A plan without changes cannot be applied, so only the audit event
// records it: a stack planned every few minutes would otherwise store its
// whole base again each time to say that nothing happened.
func (e *Engine) recordPlan(ctx context.Context, p *plan.Plan, actor string) error {
	if !p.HasChanges() {
		return e.store.Audit(ctx, state.AuditEvent{Stack: p.Stack, Actor: actorOr(actor), PlanID: p.ID,
			Data: event.PlanCreatedData{Digest: p.Digest, Commit: p.Source.Commit, Approximate: p.IsApproximate(), RestoredFrom: p.RestoredFrom}})
	}
	rec, err := e.planRecord(ctx, p, actor)
	if err != nil {
		return err
	}
	return e.store.RecordPlan(ctx, rec)
}

// planRecord is p (a plan with changes) as the record stores it: its body
// without desired manifests, and those as a revision keyed with the
// stack's key.
func (e *Engine) planRecord(ctx context.Context, p *plan.Plan, actor string) (*state.PlanRecord, error) {
	body, err := planfile.MarshalWithoutDesired(p)
	if err != nil {
		return nil, err
	}
	rev, err := source.NewRevision(p.Source.Commit, p.Desired)
	if err != nil {
		return nil, err
	}
	st, err := e.store.ReadStack(ctx, p.Stack)
	if err != nil {
		return nil, err
	}
	digest, err := rev.Digest(st.HashKey)
	if err != nil {
		return nil, err
	}
	return &state.PlanRecord{
		ID: p.ID, Stack: p.Stack, Digest: p.Digest, Body: body,
		Revision:   &state.Revision{ID: state.NewID(), Stack: p.Stack, Commit: p.Source.Commit, Digest: digest, Objects: rev.Objects, Sensitive: sensitive.Of(p.Options.Sensitive), RestoredFrom: p.RestoredFrom, CreatedAt: p.CreatedAt},
		HasChanges: p.HasChanges(), Destructive: len(p.Destructive) > 0, Approximate: p.IsApproximate(),
		CreatedBy: actorOr(actor), CreatedAt: p.CreatedAt,
	}, nil
}

func actorOr(actor string) string {
	if actor == "" {
		return "unknown"
	}
	return actor
}

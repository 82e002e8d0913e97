package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/internal/crash"
	"github.com/gantryops/gantry/internal/defaults"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/ssa"
	"github.com/gantryops/gantry/sensitive"
)

// Cluster is what the planner needs from the API server. kube.Cluster
// implements it.
type Cluster interface {
	// Resource maps a kind to its resource; an unknown kind is an error for
	// which meta.IsNoMatchError is true.
	Resource(gvk schema.GroupVersionKind) (object.Resource, error)
	// List returns all objects of r in namespace ("" for all) in one request.
	List(ctx context.Context, r object.Resource, namespace string) ([]*unstructured.Unstructured, error)
	// DryRunApply returns what a server-side apply by FieldManager would
	// store, persisting nothing; errors are the server's.
	DryRunApply(ctx context.Context, r object.Resource, obj *unstructured.Unstructured, force bool) (*unstructured.Unstructured, error)
	// PredictApply computes an apply locally (DiffLocal); live may be nil.
	PredictApply(ctx context.Context, live, desired *unstructured.Unstructured, force bool) (*unstructured.Unstructured, error)
}

// MemoEntry is what the no-op memo knows about one object: an apply of the
// desired manifest with hash Desired onto the live object with fingerprint
// Live was shown by the server to change nothing.
type MemoEntry struct {
	Desired object.Hash
	Live    object.Hash
}

// InventoryObject is one object the stack applied last.
type InventoryObject struct {
	Ref        ObjectRef
	APIVersion string
}

// Input is everything a plan is computed from.
type Input struct {
	// Stack names the stack; objects are labelled with it.
	Stack string
	// Source is the rendered revision's origin.
	Source Source
	// ClusterName is the API server's URL, recorded in the plan.
	ClusterName string
	// Objects are the rendered objects of the revision.
	Objects []*unstructured.Unstructured
	// Inventory is what the stack applied last, at InventoryGeneration.
	Inventory           []InventoryObject
	InventoryGeneration int64
	// Memo is the stack's no-op memo (ignored unless Mode is DiffAuto).
	Memo map[ObjectRef]MemoEntry
	// Key keys the plan's digest, the memo's hashes and the base's
	// fingerprints: the stack's hash key (state.Stack.HashKey).
	Key object.HashKey
	// Options are the stack's policies.
	Options Options
	// Mode is the diff mode.
	Mode DiffMode
	// RestoredFrom marks a restore: the recorded revision Objects come from.
	RestoredFrom string
}

// Result is a computed plan and the memo entries it proved.
type Result struct {
	Plan *Plan
	// Memo holds new entries for objects a dry-run showed unchanged: record
	// them so the next plan skips those objects.
	Memo map[ObjectRef]MemoEntry
}

// PlannerOptions configures a Planner.
type PlannerOptions struct {
	// Concurrency bounds the requests in flight (LISTs, dry-runs).
	Concurrency int
	// Now returns the current time; tests inject a clock.
	Now func() time.Time
}

// DefaultPlannerOptions returns 32 requests in flight and the wall clock.
func DefaultPlannerOptions() PlannerOptions {
	return PlannerOptions{Concurrency: 32, Now: time.Now}
}

// Planner computes plans against one cluster.
type Planner struct {
	cluster Cluster
	opts    PlannerOptions
}

// NewPlanner returns a Planner.
func NewPlanner(c Cluster, opts PlannerOptions) *Planner {
	opts.Concurrency = defaults.Positive(opts.Concurrency, DefaultPlannerOptions().Concurrency)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Planner{cluster: c, opts: opts}
}

// run is the state of one Compute call.
type run struct {
	*Planner
	in      Input
	policy  sensitive.Policy // of in.Options.Sensitive
	desired []*desiredObject
	hooks   []*desiredObject // hook objects: run, never compared
	live    map[ObjectRef]*unstructured.Unstructured

	lists, dryRuns, memoHits, predictions atomic.Int64

	mu           sync.Mutex
	memo         map[ObjectRef]MemoEntry
	fingerprints map[ObjectRef]object.Hash // of live objects, computed once
	inventory    map[ObjectRef]bool        // the refs of in.Inventory
}

// Compute plans in against the cluster. Per-object problems (an unknown
// kind, an invalid manifest, a namespace nobody creates) are collected and
// returned together; no partial plan is returned with an error. No error
// holds a value of a Secret, desired or live, in any form: whatever
// planning fails with passes through a sensitive.Scrubber of them.
func (p *Planner) Compute(ctx context.Context, in Input) (*Result, error) {
	start := p.opts.Now()
	switch in.Mode {
	case DiffAuto, DiffServer, DiffLocal:
	case "":
		in.Mode = DiffAuto
	default:
		return nil, fmt.Errorf("diff mode %q: use auto, server or local", in.Mode)
	}
	if len(in.Key) == 0 {
		return nil, errors.New("plan: no key given for the stack's hashes")
	}
	r := &run{Planner: p, in: in, policy: sensitive.Of(in.Options.Sensitive), memo: map[ObjectRef]MemoEntry{}, fingerprints: map[ObjectRef]object.Hash{}, inventory: make(map[ObjectRef]bool, len(in.Inventory))}
	for _, o := range in.Inventory {
		r.inventory[o.Ref] = true
	}
	plan, err := r.compute(ctx, start)
	if err != nil {
		return nil, r.scrubber().Error(err)
	}
	return &Result{Plan: plan, Memo: r.memo}, nil
}

// scrubber removes every sensitive value the plan read, desired or live,
// from text.
func (r *run) scrubber() *sensitive.Scrubber {
	objs := slices.Clone(r.in.Objects)
	for _, d := range r.desired {
		objs = append(objs, d.obj)
	}
	for _, u := range r.live {
		objs = append(objs, u)
	}
	return r.policy.Scrubber(objs...)
}

func (r *run) compute(ctx context.Context, start time.Time) (*Plan, error) {
	in := r.in
	all, err := r.prepare()
	if err != nil {
		return nil, err
	}
	r.desired, r.hooks = splitHooks(all)
	if err := r.checkEmpty(); err != nil {
		return nil, err
	}
	if err := r.readLive(ctx); err != nil {
		return nil, err
	}

	changes, err := r.changes(ctx)
	if err != nil {
		return nil, err
	}

	plan := &Plan{
		FormatVersion:       FormatVersion,
		ID:                  uuid.NewString(),
		Stack:               in.Stack,
		Source:              in.Source,
		Cluster:             in.ClusterName,
		CreatedAt:           start.UTC(),
		Mode:                in.Mode,
		Approximate:         in.Mode == DiffLocal,
		Options:             in.Options,
		InventoryGeneration: in.InventoryGeneration,
		Changes:             changes,
		RestoredFrom:        in.RestoredFrom,
	}
	for _, d := range slices.Concat(r.desired, r.hooks) {
		plan.Desired = append(plan.Desired, d.obj)
	}
	if plan.Base, err = r.base(); err != nil {
		return nil, err
	}
	plan.Destructive = destructiveReasons(plan, len(in.Inventory))
	if plan.Digest, err = Digest(plan, in.Key); err != nil {
		return nil, err
	}
	plan.Stats = Stats{
		Objects:     len(r.desired) + len(r.pruneCandidates()),
		Lists:       int(r.lists.Load()),
		DryRuns:     int(r.dryRuns.Load()),
		MemoHits:    int(r.memoHits.Load()),
		Predictions: int(r.predictions.Load()),
		Duration:    r.opts.Now().Sub(start),
	}
	return plan, nil
}

// decideAll decides every desired object concurrently, and returns every
// object's error together.
// changes are the plan's changes, by ref: one per desired object, the
// prunes, and, when any of them does something, the hooks' runs.
func (r *run) changes(ctx context.Context) ([]Change, error) {
	changes, err := r.decideAll(ctx)
	if err != nil {
		return nil, err
	}
	changes = append(changes, r.prune()...)
	if slices.ContainsFunc(changes, func(c Change) bool { return c.Action != ActionNoop }) {
		hookRuns, err := r.hookChanges()
		if err != nil {
			return nil, err
		}
		changes = append(changes, hookRuns...)
	}
	slices.SortFunc(changes, func(a, b Change) int { return object.Compare(a.Ref, b.Ref) })
	return changes, nil
}

func (r *run) decideAll(ctx context.Context) ([]Change, error) {
	changes := make([]Change, len(r.desired))
	errs := make([]error, len(r.desired))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for i, d := range r.desired {
		g.Go(func() error {
			// A panic deciding one object (a bug some content reached) is
			// that object's error, not the end of the process.
			errs[i] = crash.Catch(func() error {
				var err error
				changes[i], err = r.decide(gctx, d)
				return err
			})
			if errs[i] != nil && errors.As(errs[i], new(*crash.Error)) {
				errs[i] = fmt.Errorf("%s: %w", d.ref, errs[i])
			}
			if gctx.Err() != nil {
				return gctx.Err()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return changes, errors.Join(errs...)
}

// base records the live identity of every object the plan considered.
func (r *run) base() ([]Base, error) {
	versions := map[ObjectRef]string{}
	for _, o := range r.in.Inventory {
		versions[o.Ref] = o.APIVersion
	}
	for _, d := range r.desired {
		versions[d.ref] = d.obj.GetAPIVersion()
	}
	out := make([]Base, 0, len(versions))
	for ref, version := range versions {
		var fp object.Hash
		if live := r.live[ref]; live != nil {
			var err error
			if fp, err = r.fingerprint(ref, live); err != nil {
				return nil, err
			}
		}
		out = append(out, baseOf(ref, version, r.live[ref], fp))
	}
	slices.SortFunc(out, func(a, b Base) int { return object.Compare(a.Ref, b.Ref) })
	return out, nil
}

// baseOf records live's identity with its fingerprint fp (live nil: absent).
func baseOf(ref ObjectRef, apiVersion string, live *unstructured.Unstructured, fp object.Hash) Base {
	if live == nil {
		return Base{Ref: ref, APIVersion: apiVersion, Absent: true}
	}
	return Base{Ref: ref, APIVersion: apiVersion, UID: string(live.GetUID()), ResourceVersion: live.GetResourceVersion(), Fingerprint: hashString(fp)}
}

// fingerprint returns the fingerprint of the live object ref, computing it
// once per plan.
func (r *run) fingerprint(ref ObjectRef, live *unstructured.Unstructured) (object.Hash, error) {
	r.mu.Lock()
	fp, ok := r.fingerprints[ref]
	r.mu.Unlock()
	if ok {
		return fp, nil
	}
	fp, err := ssa.Fingerprint(r.in.Key, live)
	if err != nil {
		return fp, err
	}
	r.mu.Lock()
	r.fingerprints[ref] = fp
	r.mu.Unlock()
	return fp, nil
}

func (r *run) remember(ref ObjectRef, e MemoEntry) {
	r.mu.Lock()
	r.memo[ref] = e
	r.mu.Unlock()
}

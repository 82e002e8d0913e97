// Package runner is the continuous loop of `gantry run`: a goroutine per
// stack reconciling it (engine.Reconcile) every interval with jitter, on
// triggers (webhooks, approvals) and when a window opens or closes, with
// backoff after failures; its status and metrics.
package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/internal/defaults"
	"github.com/gantryops/gantry/internal/repourl"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// Options configures the continuous loop of `gantry run`.
type Options struct {
	// Stacks are reconciled, each on its own schedule.
	Stacks []stack.Stack
	// Cluster is the target cluster; plans read it through a watch cache
	// the runner keeps.
	Cluster *kube.Cluster
	// Actor is recorded as who reconciles (default "gantry-run").
	Actor string
	// Apply configures the applier.
	Apply apply.Options
	// ApprovalPoll is how often the database is asked for plans approved
	// from elsewhere (gantry approve), so that they apply promptly.
	ApprovalPoll time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed reconcile; it
	// doubles from MinBackoff with each failure in a row, up to MaxBackoff
	// or the stack's interval, whichever is shorter.
	MinBackoff, MaxBackoff time.Duration
	// WindowHorizon is how far ahead the runner looks for a window change
	// to wake for. Default a week.
	WindowHorizon time.Duration
	// FailingAfter is how many failed reconciles in a row record
	// stack.failing (and a success after them stack.recovered). Default 3.
	FailingAfter int
	// Metrics receives each reconcile; nil: NewMetrics().
	Metrics *Metrics
	// Logger receives the runner's log; nil: none.
	Logger hclog.Logger
	// OnReconcile, if set, is called after each reconcile (tests).
	OnReconcile func(*engine.ReconcileResult, error)
}

// DefaultOptions returns a 5 s approval poll and 2 s–5 min backoff.
func DefaultOptions() Options {
	return Options{Actor: "gantry-run", Apply: apply.DefaultOptions(), ApprovalPoll: 5 * time.Second,
		MinBackoff: 2 * time.Second, MaxBackoff: 5 * time.Minute, WindowHorizon: 7 * 24 * time.Hour, FailingAfter: 3}
}

// StackStatus is what the runner knows about one stack.
type StackStatus struct {
	Stack string `json:"stack"`
	// Repo, Ref and Path are the stack's source.
	Repo string `json:"repo"`
	Ref  string `json:"ref"`
	Path string `json:"path"`
	// Commit is the last commit reconciled.
	Commit string `json:"commit,omitempty"`
	// Outcome and Reason of the last reconcile; Error when it failed.
	Outcome gate.Outcome `json:"outcome,omitempty"`
	Reason  string       `json:"reason,omitempty"`
	Error   string       `json:"error,omitempty"`
	// PlanID is the last plan (applied, pending, deferred or refused).
	PlanID string `json:"plan_id,omitempty"`
	// LastReconcile and LastSuccess are when the last reconcile ended, and
	// the last one without error.
	LastReconcile time.Time `json:"last_reconcile,omitzero"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	// Duration is how long the last reconcile took; Requests how many
	// API requests it sent (watches excluded).
	Duration time.Duration `json:"duration_ns"`
	Requests int64         `json:"requests"`
	// Failures counts failed reconciles in a row.
	Failures int `json:"failures"`
	// NextReconcile is when the next scheduled reconcile is due.
	NextReconcile time.Time `json:"next_reconcile,omitzero"`
}

// Runner reconciles stacks continuously: every interval (plus jitter), when
// triggered (a webhook, an approval), and when a window opens or closes.
type Runner struct {
	engine  Engine
	log     hclog.Logger
	opts    Options
	cache   *kube.Cache
	metrics *Metrics

	triggers map[string]chan struct{}
	// reconcile is Engine.Reconcile; tests replace it to make one stack's
	// reconcile panic inside the real loop.
	reconcile func(context.Context, engine.ReconcileRequest) (*engine.ReconcileResult, error)

	mu       sync.Mutex
	status   map[string]*StackStatus
	approved map[string]bool // approved plans already triggered
}

// Engine is what the runner needs of the engine: its reconcile, the plans
// at the gate (for approvals made elsewhere), the database's health, and
// its clock. *engine.Engine is one.
type Engine interface {
	Reconcile(context.Context, engine.ReconcileRequest) (*engine.ReconcileResult, error)
	Gates(ctx context.Context, stack string, status gate.Status, limit int) ([]*state.Gate, error)
	Ping(context.Context) error
	Now() time.Time
	// RecordHealth records a stack's health event (stack.failing,
	// stack.recovered) on the event feed.
	RecordHealth(ctx context.Context, stack, actor string, data event.Data) error
}

// New returns a runner of e for opts.Stacks.
func New(e Engine, opts Options) *Runner {
	d := DefaultOptions()
	if opts.Actor == "" {
		opts.Actor = d.Actor
	}
	opts.ApprovalPoll = defaults.Positive(opts.ApprovalPoll, d.ApprovalPoll)
	opts.MinBackoff = defaults.Positive(opts.MinBackoff, d.MinBackoff)
	opts.MaxBackoff = defaults.Positive(opts.MaxBackoff, d.MaxBackoff)
	if opts.FailingAfter <= 0 {
		opts.FailingAfter = d.FailingAfter
	}
	opts.WindowHorizon = defaults.Positive(opts.WindowHorizon, d.WindowHorizon)
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	r := &Runner{engine: e, log: opts.Logger.Named("runner"), opts: opts, cache: kube.NewCache(opts.Cluster), metrics: opts.Metrics,
		triggers: map[string]chan struct{}{}, status: map[string]*StackStatus{}, approved: map[string]bool{}}
	r.reconcile = e.Reconcile
	for _, s := range opts.Stacks {
		r.triggers[s.Name] = make(chan struct{}, 1)
		r.status[s.Name] = &StackStatus{Stack: s.Name, Repo: s.Source.Repo, Ref: s.Source.Ref, Path: s.Source.Path}
	}
	return r
}

// Run reconciles every stack until ctx ends, then waits for the reconciles
// in flight: an apply interrupted by ctx is recorded as interrupted before
// Run returns.
func (r *Runner) Run(ctx context.Context) error {
	defer r.cache.Stop()
	var wg sync.WaitGroup
	for _, s := range r.opts.Stacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, s)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.pollApprovals(ctx)
	}()
	wg.Wait()
	return nil
}

// Trigger asks for an immediate reconcile of a stack; false when the runner
// has no such stack. Triggers while one is queued coalesce.
func (r *Runner) Trigger(name string) bool {
	ch, ok := r.triggers[name]
	if !ok {
		return false
	}
	select {
	case ch <- struct{}{}:
	default:
	}
	return true
}

// TriggerRepo triggers every stack whose source is one of the repository
// URLs given (compared without scheme, credentials, ".git" or a trailing
// slash) and, when ref is not empty, whose ref is that branch or tag (or
// HEAD, which may be any branch). It returns the stacks triggered.
func (r *Runner) TriggerRepo(urls []string, ref string) []string {
	want := map[string]bool{}
	for _, u := range urls {
		if k := repourl.Key(u); k != "" {
			want[k] = true
		}
	}
	var out []string
	for _, s := range r.opts.Stacks {
		if !want[repourl.Key(s.Source.Repo)] || !refMatches(s.Source.Ref, ref) {
			continue
		}
		r.Trigger(s.Name)
		out = append(out, s.Name)
	}
	return out
}

// refMatches reports whether a push to pushed (refs/heads/x or refs/tags/x)
// can move a stack following ref.
func refMatches(ref, pushed string) bool {
	if pushed == "" || ref == "" || ref == stack.DefaultRef || ref == pushed {
		return true
	}
	short := strings.TrimPrefix(strings.TrimPrefix(pushed, "refs/heads/"), "refs/tags/")
	return ref == short
}

// Status returns every stack's status, in configuration order.
func (r *Runner) Status() []StackStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]StackStatus, 0, len(r.opts.Stacks))
	for _, s := range r.opts.Stacks {
		out = append(out, *r.status[s.Name])
	}
	return out
}

// loop reconciles one stack until ctx ends.
func (r *Runner) loop(ctx context.Context, s stack.Stack) {
	log := r.log.With("stack", s.Name)
	failures := 0
	for {
		res, err := r.reconcileOnce(ctx, s)
		if ctx.Err() != nil {
			return
		}
		wait := s.Schedule.Interval
		if s.Schedule.Jitter > 0 {
			wait += rand.N(s.Schedule.Jitter)
		}
		before := failures
		r.recordHealth(ctx, s, healthEvent(before, err, res, r.opts.FailingAfter))
		if err != nil {
			failures++
			wait = r.backoff(s, failures)
			level := hclog.Error
			if res.Repeat {
				level = hclog.Debug // the same refusal as before, on record already
			}
			log.Log(level, "reconcile failed", "phase", res.Phase, "outcome", string(failedOutcome(res)), "failures", failures, "retry_in", wait.String(), "error", err)
		} else {
			failures = 0
			log.Info("reconciled", "outcome", string(res.Outcome), "commit", res.Commit, "requests", res.Requests, "reason", res.Reason)
		}
		now := r.engine.Now()
		if next := s.NextWindowChange(now, r.opts.WindowHorizon); !next.IsZero() && next.Sub(now) < wait {
			wait = next.Sub(now) + time.Second // just inside the new window
		}
		r.setNext(s.Name, failures, time.Now().Add(wait))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-r.triggers[s.Name]:
			timer.Stop()
		}
	}
}

// reconcileOnce runs one reconcile and records it in the status and
// metrics. A panic is a failed reconcile like any other (reconcileRecovered).
func (r *Runner) reconcileOnce(ctx context.Context, s stack.Stack) (*engine.ReconcileResult, error) {
	started := time.Now()
	res, err := reconcileRecovered(s.Name, func() (*engine.ReconcileResult, error) {
		return r.reconcile(ctx, engine.ReconcileRequest{Stack: s, Cluster: r.opts.Cluster, Reader: r.cache, Actor: r.opts.Actor, Apply: r.opts.Apply})
	})
	logPanics(r.log.With("stack", s.Name), err, res.Report)
	if err == nil && res.Outcome == "" {
		res.Outcome = gate.Unchanged
	}
	now := time.Now()
	r.metrics.observe(res, res.Phase, err, float64(now.Unix()))
	r.mu.Lock()
	st := r.status[s.Name]
	st.LastReconcile, st.Outcome, st.Reason, st.Error = now, res.Outcome, res.Reason, ""
	st.Duration, st.Requests = now.Sub(started), res.Requests
	if res.Commit != "" {
		st.Commit = res.Commit
	}
	if res.Plan != nil {
		st.PlanID = res.Plan.ID
	}
	if err != nil {
		st.Outcome, st.Error = failedOutcome(res), err.Error()
	} else {
		st.LastSuccess = now
	}
	r.mu.Unlock()
	if r.opts.OnReconcile != nil {
		r.opts.OnReconcile(res, err)
	}
	return res, err
}

// failedOutcome is the outcome of a reconcile that returned an error:
// refused when the plan was refused (nothing was applied), else failed.
func failedOutcome(res *engine.ReconcileResult) gate.Outcome {
	if res.Outcome == gate.Refused {
		return gate.Refused
	}
	return gate.Failed
}

func (r *Runner) setNext(name string, failures int, next time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status[name].Failures, r.status[name].NextReconcile = failures, next
}

// pollApprovals triggers stacks whose plan was approved (from any process).
func (r *Runner) pollApprovals(ctx context.Context) {
	tick := time.NewTicker(r.opts.ApprovalPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		gates, err := r.engine.Gates(ctx, "", gate.StatusApproved, 0)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("poll approvals", "error", err)
			}
			continue
		}
		for _, g := range gates {
			r.TriggerApproved(g)
		}
	}
}

// TriggerApproved triggers the stack of an approved plan, once per plan:
// the approval is seen by the poll and, when it came through the API, by
// the API handler too.
func (r *Runner) TriggerApproved(g *state.Gate) {
	r.mu.Lock()
	seen := r.approved[g.PlanID]
	r.approved[g.PlanID] = true
	r.mu.Unlock()
	if !seen {
		r.Trigger(g.Stack)
	}
}

// Ready reports whether the runner is ready to serve: the database answers
// and every stack has been reconciled once (successfully or not).
func (r *Runner) Ready(ctx context.Context) error {
	if err := r.engine.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrDatabaseDown, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.opts.Stacks {
		if r.status[s.Name].LastReconcile.IsZero() {
			return &NotReconciledError{Stack: s.Name}
		}
	}
	return nil
}

// NotReconciledError: a stack has not been reconciled once yet.
type NotReconciledError struct{ Stack string }

// Error names the stack.
func (e *NotReconciledError) Error() string {
	return fmt.Sprintf("stack %s has not been reconciled yet", e.Stack)
}

// ErrDatabaseDown: the database does not answer (Ready wraps the detail).
var ErrDatabaseDown = errors.New("the database does not answer")

// Metrics returns the runner's metrics.
func (r *Runner) Metrics() *Metrics { return r.metrics }

// Logger returns the runner's logger.
func (r *Runner) Logger() hclog.Logger { return r.log }

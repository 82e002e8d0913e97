package harness

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/internal/syncbuf"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// Stack is one stack under test, with a database of its own.
type Stack struct {
	Def     stack.Stack
	Kube    *kube.Cluster
	Store   *state.Store
	Engine  *engine.Engine
	Dynamic dynamic.Interface
	// Logs holds everything the engine logged (at trace level, as JSON).
	Logs *syncbuf.Buffer
	// DSN connects to the stack's database.
	DSN string
	// Clock is the engine's clock: the wall clock until a test sets it.
	Clock *Clock
	env   *Env
}

// Clock is a settable clock for the engine, so tests can record plans and
// applies at moments of their choosing.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Set stops the clock at t; the zero time restarts the wall clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Now is the time set, or the wall clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

// NewStack prepares def on a fresh database.
func (e *Env) NewStack(t testing.TB, def stack.Stack) *Stack {
	t.Helper()
	return e.NewStackOn(t, def, e.DB.NewDatabase(t))
}

// NewStackOn prepares def on the database dsn (shared, e.g., with a CLI run).
func (e *Env) NewStackOn(t testing.TB, def stack.Stack, dsn string) *Stack {
	t.Helper()
	return e.NewStackWithKey(t, def, dsn, "")
}

// NewStackWithKey prepares def on the database dsn with GANTRY_SECRET_KEY
// set to secretKey.
func (e *Env) NewStackWithKey(t testing.TB, def stack.Stack, dsn, secretKey string) *Stack {
	t.Helper()
	ctx := context.Background()
	store, err := state.Open(ctx, state.Options{DatabaseURL: dsn, SecretKey: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	logs := &syncbuf.Buffer{}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, JSONFormat: true, Output: logs})
	k, err := kube.Connect(ctx, e.Cluster.Config, kube.Options{QPS: 50, Burst: 100, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(e.restConfig())
	if err != nil {
		t.Fatal(err)
	}
	fetcher := source.NewFetcher(source.FetchOptions{CacheDir: t.TempDir(), Logger: log})
	if def.MaxPrunePercent == 0 {
		def.MaxPrunePercent = stack.DefaultMaxPrunePercent
	}
	clock := &Clock{}
	eng := engine.New(store, fetcher, engine.Options{Logger: log, Now: clock.Now})
	return &Stack{Def: def, Kube: k, Store: store, Engine: eng, Dynamic: dyn, Logs: logs, DSN: dsn, Clock: clock, env: e}
}

// restConfig is the admin config without client-side rate limiting: the
// test server enforces API Priority and Fairness, as gantry's own client
// notices; client-go's default of 5 requests a second would make tests crawl.
func (e *Env) restConfig() *rest.Config {
	c := rest.CopyConfig(e.Cluster.Config)
	c.QPS, c.Burst = -1, 0
	return c
}

// Plan plans objects as the stack's revision in mode.
func (s *Stack) Plan(t testing.TB, objs []*unstructured.Unstructured, mode plan.DiffMode) *plan.Plan {
	t.Helper()
	p, err := s.TryPlan(objs, mode)
	if err != nil {
		t.Fatalf("plan %s (%s): %v", s.Def.Name, mode, err)
	}
	return p
}

// TryPlan is Plan returning the error.
func (s *Stack) TryPlan(objs []*unstructured.Unstructured, mode plan.DiffMode) (*plan.Plan, error) {
	src := plan.Source{Repo: "test", Ref: "test", Commit: "0000000000000000000000000000000000000000", Path: "."}
	return s.Engine.PlanRevision(context.Background(), engine.PlanRequest{Stack: s.Def, Cluster: s.Kube, Mode: mode}, src, objs)
}

// Apply applies a plan with gantry's engine (approved, not waiting for
// readiness: no kubelet runs here, so Pods never start) and fails the test
// on any error.
func (s *Stack) Apply(t testing.TB, p *plan.Plan) *apply.Report {
	t.Helper()
	report, err := s.TryApply(p, true, ApplyOptions())
	if err != nil {
		t.Fatalf("apply plan %s of %s: %v", p.ID, s.Def.Name, err)
	}
	return report
}

// ApplyOptions are the applier's options for tests: no readiness wait.
func ApplyOptions() apply.Options {
	o := apply.DefaultOptions()
	o.Wait, o.PollInterval = false, 100*time.Millisecond
	return o
}

// TryApply applies a plan with the engine and returns the report and error.
func (s *Stack) TryApply(p *plan.Plan, approved bool, opts apply.Options) (*apply.Report, error) {
	return s.TryApplyContext(context.Background(), p, approved, opts)
}

// TryApplyContext is TryApply with a context (to interrupt).
func (s *Stack) TryApplyContext(ctx context.Context, p *plan.Plan, approved bool, opts apply.Options) (*apply.Report, error) {
	return s.Engine.Apply(ctx, engine.ApplyRequest{Plan: p, Cluster: s.Kube, Actor: "test", Approved: approved, Options: opts})
}

func (s *Stack) resourceInterface(t testing.TB, mapper meta.RESTMapper, apiVersion string, ref object.Ref) dynamic.ResourceInterface {
	t.Helper()
	m, err := mapper.RESTMapping(ref.GroupKind(), versionOf(apiVersion))
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return s.Dynamic.Resource(m.Resource).Namespace(ref.Namespace)
	}
	return s.Dynamic.Resource(m.Resource)
}

func versionOf(apiVersion string) string {
	for i := len(apiVersion) - 1; i >= 0; i-- {
		if apiVersion[i] == '/' {
			return apiVersion[i+1:]
		}
	}
	return apiVersion
}

// Changes returns the plan's non-noop changes as "action ref" strings.
func Changes(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Action != plan.ActionNoop {
			out = append(out, string(c.Action)+" "+c.Ref.String())
		}
	}
	return out
}

package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/gantryops/gantry/engine"
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
	Logs *bytes.Buffer
	// DSN connects to the stack's database.
	DSN string
	env *Env
}

// NewStack prepares def on a fresh database.
func (e *Env) NewStack(t testing.TB, def stack.Stack) *Stack {
	t.Helper()
	return e.NewStackOn(t, def, e.DB.NewDatabase(t))
}

// NewStackOn prepares def on the database dsn (shared, e.g., with a CLI run).
func (e *Env) NewStackOn(t testing.TB, def stack.Stack, dsn string) *Stack {
	t.Helper()
	ctx := context.Background()
	store, err := state.Open(ctx, state.Options{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	logs := &bytes.Buffer{}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, JSONFormat: true, Output: &lockedWriter{w: logs}})
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
	return &Stack{Def: def, Kube: k, Store: store, Engine: engine.New(store, fetcher, log), Dynamic: dyn, Logs: logs, DSN: dsn, env: e}
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

// Apply carries out a plan the way `gantry apply` will (issue 4): Namespaces
// first, then CRDs (waiting until Established), then everything else, by
// server-side apply as field manager gantry; replaces delete and recreate;
// prunes last; then the inventory becomes the plan's desired objects. It is
// a stand-in for tests until the apply package exists.
func (s *Stack) Apply(t testing.TB, p *plan.Plan) {
	t.Helper()
	ctx := context.Background()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(s.env.restConfig())))
	actions := map[object.Ref]plan.Action{}
	for _, c := range p.Changes {
		actions[c.Ref] = c.Action
	}
	phase := func(u *unstructured.Unstructured) int {
		switch u.GroupVersionKind().GroupKind().String() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition.apiextensions.k8s.io":
			return 1
		}
		return 2
	}
	applyOne := func(u *unstructured.Unstructured) error {
		ref := object.RefOf(u)
		ri := s.resourceInterface(t, mapper, u.GroupVersionKind().GroupVersion().String(), ref)
		if actions[ref] == plan.ActionReplace {
			if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{}); err != nil {
				return fmt.Errorf("replace %s: delete: %w", ref, err)
			}
			Eventually(t, 30*time.Second, "replaced object gone", Gone(func(ctx context.Context) error {
				_, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
				return err
			}))
		}
		body, _ := json.Marshal(u.Object)
		force := p.Options.ForceConflicts
		if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: kube.FieldManager, Force: &force}); err != nil {
			return fmt.Errorf("apply %s: %w", ref, err)
		}
		return nil
	}
	for ph := range 3 {
		if ph == 2 {
			mapper.Reset() // CRDs of phase 1 are served now
		}
		g := new(errgroup.Group)
		g.SetLimit(32)
		for _, u := range p.Desired {
			if phase(u) == ph {
				g.Go(func() error { return applyOne(u) })
			}
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if ph == 1 {
			for _, u := range p.Desired {
				if phase(u) == 1 {
					s.waitEstablished(t, u.GetName())
				}
			}
		}
	}
	for i := len(p.Changes) - 1; i >= 0; i-- {
		c := p.Changes[i]
		if c.Action != plan.ActionDelete {
			continue
		}
		ri := s.resourceInterface(t, mapper, c.APIVersion, c.Ref)
		if err := ri.Delete(ctx, c.Ref.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("prune %s: %v", c.Ref, err)
		}
	}
	inv := make([]state.InventoryObject, len(p.Desired))
	for i, u := range p.Desired {
		inv[i] = state.InventoryObject{Ref: object.RefOf(u), APIVersion: u.GetAPIVersion()}
	}
	if _, err := s.Store.SetInventory(ctx, s.Def.Name, p.InventoryGeneration, inv); err != nil {
		t.Fatal(err)
	}
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

func (s *Stack) waitEstablished(t testing.TB, name string) {
	t.Helper()
	crds := s.Dynamic.Resource(apiextensionsCRDs)
	Eventually(t, 30*time.Second, "CRD "+name+" established", func(ctx context.Context) error {
		u, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("not established yet")
	})
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

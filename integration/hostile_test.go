package integration

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/stack"
)

// badCRD is a CustomResourceDefinition whose versions are strings: before
// issue 12 it panicked the planner, and gantry run with it, for every stack.
const badCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.hostile.example.com}
spec:
  group: hostile.example.com
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions: [v1]
`

// TestRunnerGoesOnPastABadCRD: one runner, two stacks. One renders a CRD
// with spec.versions: [v1], which panicked the planner (and gantry run with
// it) before issue 12 and is now refused by the CRD's validation: its
// reconcile fails in plan, on record (status, metrics, log), and is retried
// with backoff, while the other stack applies as usual. Once its commit is
// fixed, it applies too. (A reconcile that does panic is
// engine.TestRunnerSurvivesAPanic.)
func TestRunnerGoesOnPastABadCRD(t *testing.T) {
	t.Parallel()
	goodRepo := harness.NewServedRepo(t, harness.ConfigMaps("good-a", "1"))
	badRepo := harness.NewServedRepo(t, map[string]string{"deploy/crd.yaml": badCRD, "deploy/cms.yaml": harness.ConfigMapDoc("bad-a", "1")})
	good, ns := engineStack(t, "steady", goodRepo, nil)
	bad := stackDef("hostile", ns)
	bad.Source = stack.Source{Repo: badRepo.URL, Ref: "main", Path: "deploy"}
	bad.Approval, bad.Drift, bad.Schedule = stack.ApprovalAutoUnlessDestructive, stack.DriftCorrect, stack.Schedule{Interval: time.Hour}

	opts := runner.DefaultOptions()
	opts.Stacks = []stack.Stack{good.Def, bad}
	opts.MinBackoff, opts.MaxBackoff = 200*time.Millisecond, 400*time.Millisecond
	e := harness.StartRunner(t, good, opts)

	var badFailures int
	var goodApplied bool
	for badFailures < 3 || !goodApplied {
		r := e.NextResult()
		switch r.Stack {
		case "steady":
			if r.Err != nil {
				t.Fatalf("the good stack failed: %v", r.Err)
			}
			goodApplied = goodApplied || r.Outcome == gate.Applied
		case "hostile":
			if r.Err == nil || !strings.Contains(r.Err.Error(), "spec.versions[0] must be a mapping with a name") || !strings.Contains(r.Err.Error(), "CustomResourceDefinition.apiextensions.k8s.io/gadgets.hostile.example.com") {
				t.Fatalf("the hostile stack's reconcile: %v (phase %s), want it failed naming the CRD and spec.versions", r.Err, r.Phase)
			}
			if r.Phase != "plan" {
				t.Errorf("the hostile stack failed in phase %s, want plan", r.Phase)
			}
			badFailures++
		}
	}
	wantLive(t, ns, "steady", map[string]string{"good-a": "1"})
	wantLive(t, ns, "hostile", map[string]string{})
	if _, err := env.Clientset(t).CoreV1().ConfigMaps(ns).Get(context.Background(), "bad-a", metav1.GetOptions{}); err == nil {
		t.Error("the hostile stack's ConfigMap was applied")
	}

	code, body := e.Do("GET", "/api/v1/stacks", harness.APIToken, nil, nil)
	if code != http.StatusOK || !strings.Contains(body, `"outcome": "failed"`) || !strings.Contains(body, "spec.versions[0]") || !strings.Contains(body, `"outcome": "applied"`) {
		t.Errorf("/api/v1/stacks = %d %s, want hostile failed with its error and steady applied", code, body)
	}
	code, body = e.Do("GET", "/metrics", "", nil, nil)
	if code != http.StatusOK || !strings.Contains(body, `gantry_reconciles_total{phase="plan",result="failed",stack="hostile"}`) ||
		!strings.Contains(body, `gantry_reconciles_total{phase="apply",result="applied",stack="steady"} 1`) {
		t.Errorf("/metrics does not count the failures and the apply:\n%s", body)
	}
	if !strings.Contains(good.Logs.String(), "reconcile failed") || !strings.Contains(good.Logs.String(), "spec.versions[0]") {
		t.Errorf("the failure is not logged:\n%.2000s", good.Logs.String())
	}

	// The runner goes on: the good stack still reconciles, and the
	// hostile one applies once its commit is fixed.
	goodRepo.Push("good-a=2", harness.ConfigMaps("good-a", "2"))
	badRepo.Push("fix the CRD", map[string]string{"deploy/crd.yaml": strings.Replace(badCRD, "versions: [v1]", "versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]", 1)})
	e.Runner.Trigger("steady")
	harness.Eventually(t, 30*time.Second, "both stacks applied", func(context.Context) error {
		if got := liveConfigMaps(t, ns, "steady"); got["good-a"]["v"] != "2" {
			return errors.New("steady: good-a not 2 yet")
		}
		if got := liveConfigMaps(t, ns, "hostile"); got["bad-a"] == nil {
			return errors.New("hostile: bad-a not applied yet")
		}
		return nil
	})
}

// TestKnownFailureWritesNothing: the plan of the second of two stacks
// rendering the same object says the object is another stack's and that
// the plan cannot be applied as it is; its apply is refused before the
// first write: none of its other objects is created or changed, no apply
// is recorded, and the refusal is on record with the reason.
func TestKnownFailureWritesNothing(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	first := env.NewStack(t, stackDef("known-a", ns))
	second := env.NewStackOn(t, stackDef("known-b", ns), first.DSN)
	ctx := context.Background()
	cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
	first.Apply(t, first.Plan(t, parseObjects(t, configMapDoc("shared", "a"), configMapDoc("mine-a", "1")), plan.DiffAuto))
	second.Apply(t, second.Plan(t, parseObjects(t, configMapDoc("mine-b", "1")), plan.DiffAuto))

	p := second.Plan(t, parseObjects(t, configMapDoc("mine-b", "2"), configMapDoc("shared", "b"), configMapDoc("new-b", "1"), configMapDoc("new-c", "1")), plan.DiffAuto)
	if got := plan.KnownFailures(p); len(got) != 1 || got[0].Kind != plan.FailureOwned || got[0].Ref.Name != "shared" {
		t.Fatalf("known failures = %+v, want shared owned by known-a", got)
	}
	var text strings.Builder
	if err := render.Text(&text, p, render.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`REFUSED at apply: it belongs to stack "known-a"`, "Error: this plan cannot be applied as it is.", "kubectl label --overwrite configmap/shared -n " + ns + " gantry.dev/stack=known-b"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text plan does not say %q:\n%s", want, text.String())
		}
	}
	applies := countRows(t, second, "applies", "stack = 'known-b'")

	report, err := second.TryApply(p, true, harness.ApplyOptions())
	if !errors.Is(err, apply.ErrKnownToFail) || report != nil || !strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), `ConfigMap/`+ns+`/shared: it belongs to stack "known-a"`) {
		t.Fatalf("apply = %v, %v; want it refused naming shared, with no report", report, err)
	}
	for _, name := range []string{"new-b", "new-c"} {
		if _, err := cms.Get(ctx, name, metav1.GetOptions{}); err == nil {
			t.Errorf("%s was created by a refused apply", name)
		}
	}
	wantLive(t, ns, "known-b", map[string]string{"mine-b": "1"})
	wantLive(t, ns, "known-a", map[string]string{"shared": "a", "mine-a": "1"})
	if n := countRows(t, second, "applies", "stack = 'known-b'"); n != applies {
		t.Errorf("%d applies recorded for the refused plan", n-applies)
	}
	var details string
	if err := queryRow(t, second, `SELECT details::text FROM audit_events WHERE stack = 'known-b' AND kind = $1 AND plan_id = $2`, event.ApplyRefused, p.ID).Scan(&details); err != nil {
		t.Fatalf("no apply.refused event for plan %s: %v", p.ID, err)
	}
	if !strings.Contains(details, "cannot be applied as it is") || !strings.Contains(details, `belongs to stack \"known-a\"`) {
		t.Errorf("the refusal's record does not give the reason: %s", details)
	}
}

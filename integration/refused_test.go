package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/stack"
)

// TestRunnerRecordsARefusalOnce: gantry run reconciles a stack whose plan
// cannot be applied as it is (an object another stack owns). The reconcile
// ends refused, not applied: outcome refused in the result, the status and
// the metrics, the reason in the status, nothing written to the cluster.
// Retried with backoff, the same plan is refused again without a new record
// (one plan, one plan.created, one apply.refused, one error line in the log,
// however many reconciles). A new commit makes a new plan, decided and
// recorded afresh; the object relabelled to the stack (a change in the
// cluster) lets the plan through, and it applies.
func TestRunnerRecordsARefusalOnce(t *testing.T) {
	t.Parallel()
	repo := harness.NewServedRepo(t, harness.ConfigMaps("shared", "b", "mine", "1"))
	b, ns := engineStack(t, "refused-b", repo, func(d *stack.Stack) { d.Approval = stack.ApprovalAuto })
	a := env.NewStackOn(t, stackDef("refused-a", ns), b.DSN)
	a.Apply(t, a.Plan(t, parseObjects(t, configMapDoc("shared", "a")), plan.DiffAuto))
	count := func(table, kind string) int {
		where := "stack = 'refused-b'"
		if kind != "" {
			where += fmt.Sprintf(" AND kind = '%s'", kind)
		}
		return countRows(t, b, table, where)
	}

	opts := runner.DefaultOptions()
	opts.MinBackoff, opts.MaxBackoff = 50*time.Millisecond, 100*time.Millisecond
	e := harness.StartRunner(t, b, opts)
	for i := range 6 {
		r := e.NextResult()
		if r.Outcome != gate.Refused || !errors.Is(r.Err, apply.ErrKnownToFail) || r.Repeat != (i > 0) {
			t.Fatalf("reconcile %d: outcome %s (repeat %t), error %v; want refused, for an object another stack owns, recorded the first time only", i, r.Outcome, r.Repeat, r.Err)
		}
	}
	wantLive(t, ns, "refused-b", map[string]string{})
	for _, c := range []struct {
		table, kind string
	}{{"plans", ""}, {"audit_events", string(event.PlanCreated)}, {"audit_events", string(event.ApplyRefused)}} {
		if n := count(c.table, c.kind); n != 1 {
			t.Errorf("%d rows in %s %s after six reconciles of the same refused plan, want 1", n, c.table, c.kind)
		}
	}
	if n := strings.Count(b.Logs.String(), `"@level":"error","@message":"reconcile failed"`); n != 1 {
		t.Errorf("%d error lines for the same refusal, want 1 (the others at debug level)", n)
	}
	code, body := e.Do("GET", "/api/v1/stacks", harness.APIToken, nil, nil)
	if code != http.StatusOK || !strings.Contains(body, `"outcome": "refused"`) || !strings.Contains(body, `belongs to stack \"refused-a\"`) {
		t.Errorf("/api/v1/stacks = %d %s, want the stack refused, with the reason", code, body)
	}
	_, body = e.Do("GET", "/metrics", "", nil, nil)
	if !strings.Contains(body, `gantry_reconciles_total{phase="gate",result="refused",stack="refused-b"}`) || strings.Contains(body, `result="failed",stack="refused-b"`) || strings.Contains(body, `result="applied",stack="refused-b"`) {
		t.Errorf("/metrics does not count the refusals as refused:\n%s", body)
	}

	// A new commit: a new plan, refused and recorded afresh.
	repo.Push("mine=2", harness.ConfigMaps("shared", "b", "mine", "2"))
	e.Runner.Trigger("refused-b")
	harness.Eventually(t, 20*time.Second, "the new commit's plan refused and recorded", func(context.Context) error {
		if n := count("audit_events", string(event.ApplyRefused)); n != 2 {
			return fmt.Errorf("%d apply.refused events", n)
		}
		return nil
	})
	if n := count("plans", ""); n != 2 {
		t.Errorf("%d plans after the second commit, want 2", n)
	}

	// The object relabelled to the stack on purpose: the cluster changed,
	// and the plan applies.
	patch := []byte(`{"metadata":{"labels":{"gantry.dev/stack":"refused-b"}}}`)
	if _, err := env.Clientset(t).CoreV1().ConfigMaps(ns).Patch(context.Background(), "shared", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	for r := e.NextResult(); r.Outcome != gate.Applied; r = e.NextResult() {
		if r.Outcome != gate.Refused {
			t.Fatalf("reconcile after the relabel: %s, %v", r.Outcome, r.Err)
		}
	}
	wantLive(t, ns, "refused-b", map[string]string{"shared": "b", "mine": "2"})
}

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// signingRepo is a served repository whose commits are signed with an SSH
// key the returned allowed-signers file trusts.
func signingRepo(t *testing.T, files map[string]string) (repo *harness.ServedRepo, allowed string, push func(msg string, files map[string]string) string) {
	t.Helper()
	keys := t.TempDir()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deploy", "-f", filepath.Join(keys, "deploy")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(filepath.Join(keys, "deploy.pub"))
	if err != nil {
		t.Fatal(err)
	}
	allowed = filepath.Join(keys, "allowed_signers")
	if err := os.WriteFile(allowed, append([]byte("deploy@acme.invalid "), pub...), 0o644); err != nil {
		t.Fatal(err)
	}
	repo = harness.NewServedRepo(t, files)
	push = func(msg string, files map[string]string) string {
		t.Helper()
		repo.Write(files)
		repo.Git("add", "-A")
		repo.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+filepath.Join(keys, "deploy.pub"), "-c", "commit.gpgsign=true", "commit", "-q", "-m", msg)
		repo.PushTo("app")
		return strings.TrimSpace(repo.Git("rev-parse", "HEAD"))
	}
	return repo, allowed, push
}

// forcePush moves the branch main back to commit and force-pushes it, as
// a pusher who cannot sign can.
func forcePush(repo *harness.ServedRepo, commit string) {
	repo.Git("reset", "-q", "--hard", commit)
	repo.PushTo("app")
}

// TestEngineRollbackNeedsPerson: on a stack that verifies signatures, with
// approval: auto (which applies even destructive plans by itself), signed
// commits A then B are applied; the branch force-pushed back to A (signed,
// but older) makes a plan that waits for a person, with the reason on
// record, and nothing is applied (the engine refuses it unapproved);
// approved, it is applied. A history
// rewritten (a signed commit that does not descend from the last applied)
// waits too.
func TestEngineRollbackNeedsPerson(t *testing.T) {
	t.Parallel()
	repo, allowed, push := signingRepo(t, harness.ConfigMaps("a", "0"))
	s, ns := engineStack(t, "rollback", repo, func(d *stack.Stack) {
		d.Verify = &stack.Verify{Provider: "ssh", Keys: allowed}
		d.Approval = stack.ApprovalAuto
	})
	r := newReconciler(t, s)
	ctx := context.Background()

	a := push("A", harness.ConfigMaps("a", "1"))
	expectOutcome(t, r.reconcile(), gate.Applied)
	b := push("B", harness.ConfigMaps("a", "2"))
	expectOutcome(t, r.reconcile(), gate.Applied)
	wantLive(t, ns, "rollback", map[string]string{"a": "2"})

	forcePush(repo, a)
	res := r.reconcile()
	expectOutcome(t, res, gate.Pending)
	want := fmt.Sprintf("commit %s is older than commit %s, the last commit applied", object.ShortSHA(a), object.ShortSHA(b))
	if !strings.Contains(res.Reason, want) || res.Plan.Rollback == "" {
		t.Fatalf("pending reason %q (plan rollback %q), want it to say %q", res.Reason, res.Plan.Rollback, want)
	}
	wantLive(t, ns, "rollback", map[string]string{"a": "2"})
	pendingID := res.Plan.ID
	pending, err := s.Store.Gates(ctx, "rollback", gate.StatusPending, 0)
	if err != nil || len(pending) != 1 || pending[0].PlanID != pendingID || !strings.Contains(pending[0].Reason, want) {
		t.Fatalf("pending plans = %+v, %v; want %s waiting because %q", pending, err, pendingID, want)
	}
	var reason string
	if err := queryRow(t, s, `SELECT details->>'reason' FROM audit_events WHERE kind = 'plan.pending' AND plan_id = $1`, pendingID).Scan(&reason); err != nil || !strings.Contains(reason, want) {
		t.Errorf("plan.pending audit reason %q (%v), want %q", reason, err, want)
	}
	expectOutcome(t, r.reconcile(), gate.Pending) // still waits

	// The engine refuses the plan unapproved, whoever calls it, on record.
	p, err := s.Engine.LoadPlan(ctx, pendingID)
	if err != nil {
		t.Fatal(err)
	}
	req := engineRequest(s, p, 0)
	req.Approved = false
	if _, err := s.Engine.Apply(ctx, req); err == nil || !strings.Contains(err.Error(), "nobody approved it: "+want) {
		t.Errorf("unapproved apply of the rollback: %v, want it refused", err)
	}
	if n := auditCount(t, s, event.ApplyRefused); n != 1 {
		t.Errorf("%d apply.refused events, want 1", n)
	}
	wantLive(t, ns, "rollback", map[string]string{"a": "2"})

	if _, err := s.Engine.Decide(ctx, state.Decision{PlanID: pendingID, Approve: true, Actor: "alice", Reason: "B is broken"}); err != nil {
		t.Fatal(err)
	}
	res = r.reconcile()
	expectOutcome(t, res, gate.Applied)
	if res.Plan.ID != pendingID {
		t.Errorf("applied plan %s, want the approved %s", res.Plan.ID, pendingID)
	}
	wantLive(t, ns, "rollback", map[string]string{"a": "1"})
	expectOutcome(t, r.reconcile(), gate.Unchanged)

	// Forward from A again: no person needed.
	c := push("C", harness.ConfigMaps("a", "3"))
	expectOutcome(t, r.reconcile(), gate.Applied)

	// A rewritten history: D, signed, made on A's parent, does not descend
	// from C.
	forcePush(repo, a+"^")
	d := push("D", harness.ConfigMaps("a", "4"))
	res = r.reconcile()
	expectOutcome(t, res, gate.Pending)
	if want := fmt.Sprintf("commit %s does not descend from commit %s", object.ShortSHA(d), object.ShortSHA(c)); !strings.Contains(res.Reason, want) || !strings.Contains(res.Reason, "rewritten") {
		t.Errorf("pending reason %q, want it to say %q", res.Reason, want)
	}
	wantLive(t, ns, "rollback", map[string]string{"a": "3"})
}

// TestCLIApplyRollback: gantry apply treats a rollback as it treats a
// destructive plan: --auto-approve refuses it (nothing applied) naming the
// reason and --allow-rollback; gantry plan shows the warning; with
// --allow-rollback it is applied.
func TestCLIApplyRollback(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo, allowed, push := signingRepo(t, harness.ConfigMaps("a", "0"))
	c := newCLI(t, env.DB.NewDatabase(t))
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: rb\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n  approval: auto\n  verify: {provider: ssh, keys: %s}\n", repo.URL, ns, allowed))
	apply := func(args ...string) (string, string, int) {
		t.Helper()
		return c.run(append([]string{"apply", "--auto-approve", "--wait=false"}, args...)...)
	}
	a := push("A", harness.ConfigMaps("a", "1"))
	if out, errOut, code := apply(); code != 0 {
		t.Fatalf("apply A: exit %d\n%s\n%s", code, out, errOut)
	}
	b := push("B", harness.ConfigMaps("a", "2"))
	if out, errOut, code := apply(); code != 0 {
		t.Fatalf("apply B: exit %d\n%s\n%s", code, out, errOut)
	}

	forcePush(repo, a)
	want := fmt.Sprintf("commit %s is older than commit %s", object.ShortSHA(a), object.ShortSHA(b))
	if out, _, code := c.run("plan"); code != 0 || !strings.Contains(out, "Warning: "+want) {
		t.Errorf("plan of the rollback: exit %d, want the warning %q\n%s", code, want, out)
	}
	if _, errOut, code := apply(); code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--allow-rollback") {
		t.Errorf("apply --auto-approve of the rollback: exit %d, want 1 saying %q and --allow-rollback\n%s", code, want, errOut)
	}
	wantLive(t, ns, "rb", map[string]string{"a": "2"})

	// A saved plan of the rollback with its "rollback" field cut out (the
	// field is not in the digest): the engine decides the rule again from
	// the record, and refuses it unapproved.
	if out, errOut, code := c.run("plan", "--out", "rb.plan"); code != 0 {
		t.Fatalf("plan --out: exit %d\n%s\n%s", code, out, errOut)
	}
	file := filepath.Join(c.dir, "rb.plan")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	field := regexp.MustCompile(`,?\s*"rollback":\s*"[^"]*"`)
	if !field.Match(raw) {
		t.Fatalf("the planfile has no rollback field:\n%.2000s", raw)
	}
	if err := os.WriteFile(file, field.ReplaceAll(raw, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := c.run("apply", "--wait=false", "rb.plan"); code != 1 || !strings.Contains(errOut, "goes back and nobody approved it: "+want) {
		t.Errorf("apply of the planfile without its rollback field: exit %d, want 1 saying it goes back\n%s", code, errOut)
	}
	wantLive(t, ns, "rb", map[string]string{"a": "2"})

	if out, errOut, code := apply("--allow-rollback"); code != 0 {
		t.Fatalf("apply --allow-rollback: exit %d\n%s\n%s", code, out, errOut)
	}
	wantLive(t, ns, "rb", map[string]string{"a": "1"})
}

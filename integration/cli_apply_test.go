package integration

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/internal/gittest"
)

// runIn runs the CLI with stdin.
func (c *cli) runIn(stdin string, args ...string) (string, string, int) {
	c.t.Helper()
	saved := c.stdin
	c.stdin = stdin
	defer func() { c.stdin = saved }()
	return c.run(args...)
}

func TestCLIApply(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	repo.Commit("v1", map[string]string{"deploy/cms.yaml": configMapDoc("a", "1") + configMapDoc("b", "1")})
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: cli\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n  maxPrunePercent: 50\n", repo.Dir, ns))

	// Answered "no": nothing happens, on record.
	out, _, code := c.runIn("no\n", "apply", "--actor", "alice")
	if code != 1 || !strings.Contains(out, "Only 'yes' will be accepted to approve.") || !strings.Contains(out, "Apply cancelled.") {
		t.Fatalf("answer no: exit %d\n%s", code, out)
	}
	if _, err := env.Clientset(t).CoreV1().ConfigMaps(ns).Get(context.Background(), "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a cancelled apply created objects: %v", err)
	}
	// Answered "yes": applied, with progress lines and Terraform's summary.
	out, errOut, code := c.runIn("yes\n", "apply", "--actor", "alice")
	if code != 0 {
		t.Fatalf("answer yes: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, w := range []string{"Plan: 2 to add, 0 to change, 0 to destroy.", "ConfigMap/" + ns + "/a: Creating...", "ConfigMap/" + ns + "/a: Creation complete after", "Apply complete! Resources: 2 added, 0 changed, 0 destroyed."} {
		if !strings.Contains(out, w) {
			t.Errorf("apply output lacks %q:\n%s", w, out)
		}
	}
	out, _, code = c.run("apply", "--auto-approve")
	if code != 0 || !strings.Contains(out, "No changes.") || !strings.Contains(out, "Resources: 0 added, 0 changed, 0 destroyed.") {
		t.Errorf("nothing to do: exit %d\n%s", code, out)
	}

	// A change and a prune, planned to a file, applied later without asking.
	repo.Commit("v2", map[string]string{"deploy/cms.yaml": configMapDoc("a", "2")})
	_, _, code = c.run("plan", "--out", "v2.plan")
	if code != 0 {
		t.Fatal("plan --out failed")
	}
	repo.Commit("v3", map[string]string{"deploy/cms.yaml": configMapDoc("a", "3")}) // Git moves on
	out, errOut, code = c.run("apply", "v2.plan")
	if code != 0 || !strings.Contains(out, "Apply complete! Resources: 0 added, 1 changed, 1 destroyed.") || !strings.Contains(out, "ConfigMap/"+ns+"/b: Destruction complete") {
		t.Fatalf("apply v2.plan: exit %d\n%s\n%s", code, out, errOut)
	}
	got, _ := env.Clientset(t).CoreV1().ConfigMaps(ns).Get(context.Background(), "a", metav1.GetOptions{})
	if got.Data["v"] != "2" {
		t.Errorf("applied %q, want the saved plan's 2 (not Git's 3)", got.Data["v"])
	}

	// A recorded plan by ID.
	js, _, _ := c.run("plan", "-o", "json")
	id := regexp.MustCompile(`"id": "([0-9a-f-]{36})"`).FindStringSubmatch(js)
	if id == nil {
		t.Fatalf("no plan id in %s", js)
	}
	out, _, code = c.run("apply", "--plan-id", id[1][:8]) // a prefix, as history shows it
	if code != 0 || !strings.Contains(out, "Resources: 0 added, 1 changed, 0 destroyed.") {
		t.Errorf("apply --plan-id: exit %d\n%s", code, out)
	}
	if _, errOut, code := c.run("apply", "--plan-id", id[1]); code != 1 || !strings.Contains(errOut, "saved plan is stale") {
		t.Errorf("applying the same plan again: exit %d, %s; want stale", code, errOut)
	}

	// Destructive: --auto-approve alone is refused; --allow-destructive approves.
	repo.Commit("empty", map[string]string{"deploy/cms.yaml!": "", "deploy/README.md": "nothing here\n"})
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: cli\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n  allowEmpty: true\n", repo.Dir, ns))
	if _, errOut, code := c.run("apply", "--auto-approve"); code != 1 || !strings.Contains(errOut, "is destructive") || !strings.Contains(errOut, "--allow-destructive") {
		t.Errorf("destructive --auto-approve: exit %d, %s", code, errOut)
	}
	if _, err := env.Clientset(t).CoreV1().ConfigMaps(ns).Get(context.Background(), "a", metav1.GetOptions{}); err != nil {
		t.Errorf("a refused destructive apply deleted a: %v", err)
	}
	if out, errOut, code := c.run("apply", "--auto-approve", "--allow-destructive"); code != 0 || !strings.Contains(out, "1 destroyed") {
		t.Errorf("--allow-destructive: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestCLIApplyLockAndForceUnlock(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	dsn := env.DB.NewDatabase(t)
	s := env.NewStackOn(t, stackDef("cli-lock", ns), dsn)
	lock, err := s.Store.Lock(context.Background(), "cli-lock", "alice", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	repo := gittest.NewRepo(t)
	repo.Commit("v1", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
	c := newCLI(t, dsn)
	start := time.Now()
	_, errOut, code := c.run("apply", "--repo", repo.Dir, "--ref", "main", "--namespace", ns, "--stack", "cli-lock", "--auto-approve", "--lock-timeout", "500ms")
	if code != 1 || !strings.Contains(errOut, "is locked by alice") || !strings.Contains(errOut, lock.Holder().LockID) || time.Since(start) < 500*time.Millisecond {
		t.Fatalf("locked: exit %d after %s: %s", code, time.Since(start), errOut)
	}
	out, _, code := c.runIn("yes\n", "force-unlock", lock.Holder().LockID, "--actor", "operator")
	if code != 0 || !strings.Contains(out, "held by alice") {
		t.Fatalf("force-unlock: exit %d\n%s", code, out)
	}
	if _, errOut, code := c.run("apply", "--repo", repo.Dir, "--ref", "main", "--namespace", ns, "--stack", "cli-lock", "--auto-approve", "--lock-timeout", "5s"); code != 0 {
		t.Errorf("after force-unlock: exit %d: %s", code, errOut)
	}
	if n := countRows(t, s, "audit_events", "kind = 'lock.broken' AND actor = 'operator'"); n != 1 {
		t.Errorf("lock.broken events: %d", n)
	}
}

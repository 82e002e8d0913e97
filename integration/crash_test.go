package integration

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/internal/gittest"
)

// TestCrashRecovery kills gantry apply with SIGKILL after it created some
// of 400 objects. The record holds its intent (a pending row per change)
// and what it confirmed; the next apply takes the lock (the dead session
// released it), marks the dead apply interrupted and its unconfirmed rows
// unknown, and converges. No object is recorded as applied twice, and
// every object has a row saying who made it.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	const n = 400
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	var doc strings.Builder
	for i := range n {
		doc.WriteString(configMapDoc(fmt.Sprintf("cm-%03d", i), "1"))
	}
	repo.Commit("many", map[string]string{"deploy/cms.yaml": doc.String()})
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: crash\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n", repo.Dir, ns))
	cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
	count := func(ctx context.Context) int {
		list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "gantry.dev/stack=crash"})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}

	ctx := context.Background()
	killedAt := killMidApply(t, c, func() int { return count(ctx) })
	created := count(ctx)
	if created == n {
		t.Fatalf("all %d objects were created before the kill took effect", n)
	}
	_ = created
	t.Logf("killed after %d objects; %d existed once it was dead", killedAt, created)
	if status := dbValue[string](t, dsn, `SELECT status FROM applies`); status != "running" {
		t.Fatalf("the killed apply is %q on record, want running (nobody has looked yet)", status)
	}
	if rows := dbValue[int](t, dsn, `SELECT count(*) FROM apply_outcomes`); rows != n {
		t.Errorf("%d outcome rows for the killed apply, want its intent: one per change (%d)", rows, n)
	}

	// The next apply: the lock is free, the dead apply is closed, the rest applied.
	out, errOut, code := c.run("apply", "--auto-approve", "--wait=false")
	if code != 0 {
		t.Fatalf("apply after the crash: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := count(ctx); got != n {
		t.Errorf("%d objects after the second apply, want %d", got, n)
	}
	killed := dbValue[string](t, dsn, `SELECT id::text FROM applies ORDER BY started_at LIMIT 1`)
	if status := dbValue[string](t, dsn, `SELECT status FROM applies WHERE id = $1`, killed); status != "interrupted" {
		t.Errorf("the killed apply is %q, want interrupted", status)
	}
	if n := dbValue[int](t, dsn, `SELECT count(*) FROM audit_events WHERE kind = 'apply.interrupted' AND apply_id = $1`, killed); n != 1 {
		t.Errorf("%d apply.interrupted events for the killed apply, want 1", n)
	}
	if pending := dbValue[int](t, dsn, `SELECT count(*) FROM apply_outcomes WHERE outcome = 'pending'`); pending != 0 {
		t.Errorf("%d outcomes still pending, want none", pending)
	}
	if twice := dbValue[int](t, dsn, `SELECT count(*) FROM (SELECT name FROM apply_outcomes WHERE outcome = 'applied' GROUP BY name HAVING count(*) > 1) x`); twice != 0 {
		t.Errorf("%d objects recorded as applied twice", twice)
	}
	// Every object has one row saying it was applied, or one saying the dead
	// apply may have (unknown) while the next apply found nothing to do.
	unaccounted := dbValue[int](t, dsn, `
SELECT count(*) FROM (SELECT name FROM apply_outcomes GROUP BY name
HAVING count(*) FILTER (WHERE outcome = 'applied') = 0 AND count(*) FILTER (WHERE outcome = 'unknown') <> 1) x`)
	if unaccounted != 0 {
		t.Errorf("%d objects without a row saying who made them", unaccounted)
	}
	confirmed := dbValue[int](t, dsn, `SELECT count(*) FROM apply_outcomes WHERE apply_id = $1 AND outcome = 'applied'`, killed)
	unknown := dbValue[int](t, dsn, `SELECT count(*) FROM apply_outcomes WHERE apply_id = $1 AND outcome = 'unknown'`, killed)
	if confirmed > created {
		t.Errorf("the killed apply confirmed %d objects, but only %d existed", confirmed, created)
	}
	t.Logf("the killed apply confirmed %d objects; %d were unknown (in flight or not yet recorded)", confirmed, unknown)
	if n := dbValue[int](t, dsn, `SELECT count(*) FROM stack_locks`); n != 0 {
		t.Errorf("%d stack locks held after the recovery", n)
	}
	if _, _, code := c.run("plan", "--detailed-exitcode"); code != 0 {
		t.Errorf("plan after the recovery: exit %d, want 0 (converged)", code)
	}
}

// killMidApply starts gantry apply --auto-approve and kills it with SIGKILL
// once count reports at least 40 objects; it returns that count.
func killMidApply(t *testing.T, c *cli, count func() int) int {
	t.Helper()
	cmd := exec.Command(c.bin, "apply", "--auto-approve", "--wait=false")
	cmd.Dir, cmd.Env = c.dir, c.env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		select {
		case err := <-exited:
			t.Fatalf("gantry apply ended (%v) before it could be killed midway; raise the object count", err)
		case <-time.After(5 * time.Millisecond):
		}
		if k := count(); k >= 40 {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-exited
			return k
		}
	}
}

// TestCrashLeavesNoOrphans: what a killed apply created joins the
// inventory when the next apply takes the lock, so a commit that drops it
// prunes it; nothing the dead process made goes untracked.
func TestCrashLeavesNoOrphans(t *testing.T) {
	t.Parallel()
	const n = 400
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	var all, few strings.Builder
	for i := range n {
		all.WriteString(configMapDoc(fmt.Sprintf("cm-%03d", i), "1"))
		if i < 10 {
			few.WriteString(configMapDoc(fmt.Sprintf("cm-%03d", i), "1"))
		}
	}
	repo.Commit("many", map[string]string{"deploy/cms.yaml": all.String()})
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: orphans\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n  maxPrunePercent: 100\n", repo.Dir, ns))
	cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
	count := func() int {
		list, err := cms.List(context.Background(), metav1.ListOptions{LabelSelector: "gantry.dev/stack=orphans"})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	killMidApply(t, c, count)
	created := count()
	repo.Commit("only ten", map[string]string{"deploy/cms.yaml": few.String()})
	out, errOut, code := c.run("apply", "--auto-approve", "--wait=false")
	if code != 0 {
		t.Fatalf("apply of ten after the crash: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := count(); got != 10 {
		t.Errorf("%d ConfigMaps after applying ten (the killed apply had made %d): the rest are orphans", got, created)
	}
}

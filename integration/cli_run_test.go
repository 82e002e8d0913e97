package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/gittest"
)

// dbValue runs a one-value query on the database dsn.
func dbValue[T any](t *testing.T, dsn, sql string, args ...any) T {
	t.Helper()
	v, err := tryDBValue[T](dsn, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func tryDBValue[T any](dsn, sql string, args ...any) (T, error) {
	var v T
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		return v, err
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(context.Background(), sql, args...).Scan(&v)
	return v, err
}

// TestCLIRunApproveReject drives gantry run --once, plans, approve and
// reject as a person would, with JSON logs.
func TestCLIRunApproveReject(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	repo.Commit("v1", map[string]string{"deploy/cms.yaml": configMapDoc("a", "1") + configMapDoc("b", "1")})
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: clirun\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n", repo.Dir, ns))

	out, errOut, code := c.run("run", "--once", "--log-format", "json", "--log-level", "debug")
	if code != 0 || !strings.Contains(out, "clirun: applied plan ") {
		t.Fatalf("run --once: exit %d\n%s\n%s", code, out, errOut)
	}
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if line == "" {
			continue
		}
		lines++
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("--log-format json wrote a line that is not JSON: %q", line)
		}
	}
	if lines == 0 {
		t.Error("no log lines at debug level")
	}

	// Deleting b (half the stack) waits for a person.
	repo.Commit("drop b", map[string]string{"deploy/cms.yaml": configMapDoc("a", "1")})
	out, _, code = c.run("run", "--once")
	m := regexp.MustCompile(`clirun: pending plan ([0-9a-f-]{36}): destructive`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("run --once with a destructive commit: exit %d\n%s", code, out)
	}
	id := m[1]
	out, _, code = c.run("plans", "--pending")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "pending") {
		t.Fatalf("plans --pending: exit %d\n%s", code, out)
	}
	js, _, _ := c.run("plans", "--pending", "-o", "json")
	var listed struct {
		Plans []struct {
			PlanID string `json:"plan_id"`
		}
	}
	if err := json.Unmarshal([]byte(js), &listed); err != nil || len(listed.Plans) != 1 || listed.Plans[0].PlanID != id {
		t.Fatalf("plans -o json = %s (%v)", js, err)
	}
	if _, err := env.Clientset(t).CoreV1().ConfigMaps(ns).Get(context.Background(), "b", metav1.GetOptions{}); err != nil {
		t.Fatalf("b was pruned before approval: %v", err)
	}

	out, errOut, code = c.run("approve", id[:8], "--reason", "b is unused", "--actor", "alice")
	if code != 0 || !strings.Contains(out, "is approved by alice") {
		t.Fatalf("approve: exit %d\n%s\n%s", code, out, errOut)
	}
	_, errOut, code = c.run("reject", id, "--actor", "bob")
	if code != 1 || !strings.Contains(errOut, "is approved (by alice") {
		t.Errorf("rejecting an approved plan: exit %d\n%s", code, errOut)
	}
	out, _, code = c.run("run", "--once")
	if code != 0 || !strings.Contains(out, "clirun: applied plan "+id) {
		t.Fatalf("run --once after approval: exit %d\n%s", code, out)
	}
	if _, err := env.Clientset(t).CoreV1().ConfigMaps(ns).Get(context.Background(), "b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("b still there after the approved prune: %v", err)
	}
	if got := dbValue[string](t, dsn, `SELECT details->>'reason' FROM audit_events WHERE kind = 'plan.approved' AND actor = 'alice'`); got != "b is unused" {
		t.Errorf("approval reason recorded as %q", got)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--once", "--stack", "nope"}, `--stack nope: no such stack in gantry.yaml (it declares: clirun)`},
		{[]string{"approve", "not-an-id"}, `give a plan ID`},
		{[]string{"approve", "00000000-0000-0000-0000-000000000000"}, `no plan 00000000-0000-0000-0000-000000000000`},
		{[]string{"plans", "--status", "waiting"}, `--status "waiting": use pending or approved or`},
		{[]string{"run", "--config", "missing.yaml"}, `missing.yaml`},
	} {
		_, errOut, code := c.run(tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("gantry %s: exit %d, stderr %q, want it to say %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

// TestCLIRunSIGTERM stops gantry run with SIGTERM while it waits for a
// Deployment to become ready (no kubelet runs: it never does): the process
// exits promptly, the apply is recorded as interrupted, and the stack's lock
// is free.
func TestCLIRunSIGTERM(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	repo.Commit("v1", map[string]string{"deploy/app.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
`})
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: sigterm\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n", repo.Dir, ns))
	cmd := exec.Command(c.bin, "run", "--listen", "127.0.0.1:0", "--log-level", "info", "--timeout", "10m")
	cmd.Dir, cmd.Env = c.dir, c.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	harness.Eventually(t, 30*time.Second, "the apply is running", func(context.Context) error {
		if n, err := tryDBValue[int](dsn, `SELECT count(*) FROM applies WHERE status = 'running'`); err != nil || n != 1 {
			return fmt.Errorf("%d running applies (%v); gantry run says:\n%s", n, err, stderr.String())
		}
		return nil
	})
	harness.Eventually(t, 30*time.Second, "the Deployment is applied (the apply then waits for it)", func(ctx context.Context) error {
		_, err := env.Clientset(t).AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err
	})
	time.Sleep(200 * time.Millisecond) // into the readiness wait
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("gantry run exited with %v after SIGTERM\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("gantry run did not exit within 30s of SIGTERM\n%s", stderr.String())
	}
	if status := dbValue[string](t, dsn, `SELECT status FROM applies`); status != "interrupted" {
		t.Errorf("apply recorded as %q, want interrupted", status)
	}
	if n := dbValue[int](t, dsn, `SELECT count(*) FROM audit_events WHERE kind = 'apply.interrupted'`); n != 1 {
		t.Errorf("%d apply.interrupted events, want 1", n)
	}
	if n := dbValue[int](t, dsn, `SELECT count(*) FROM stack_locks`); n != 0 {
		t.Errorf("the stack's lock is still held after SIGTERM (%d lock rows)", n)
	}
}

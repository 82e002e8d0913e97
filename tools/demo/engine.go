package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Credentials of the demo's gantry run (the API token and webhook secret).
const (
	demoToken  = "demo-api-token"
	demoSecret = "demo-webhook-secret"
)

// engine runs gantry run on the example stack: a pushed commit is applied
// by itself, a pushed deletion waits as a pending plan, and approving it
// applies it.
func (d *demo) engine(ctx context.Context, config, repo string) (err error) {
	step("Start a webhook receiver on loopback, and route the shop stack's pending plans and applies to it in gantry.yaml (notifications)")
	hook, err := startReceiver()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, hook.close()) }()
	if err := addNotifications(config); err != nil {
		return err
	}
	d.hookURL = hook.url
	base, stop, err := d.startEngine(config)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop()) }()
	first, err := d.waitReconcile(ctx, base, time.Time{})
	if err != nil {
		return err
	}
	fmt.Printf("first reconcile: %s in %s, %d API requests\n", first.Outcome, time.Duration(first.Duration).Round(time.Millisecond), first.Requests)
	st, err := d.pushApplied(ctx, base, repo, first)
	if err != nil {
		return err
	}
	if st, err = d.pushPending(ctx, base, repo, st); err != nil {
		return err
	}
	step("Approve it: gantry run notices within its --approval-poll, checks the cluster still matches the plan, and applies it")
	if err := d.gantryCmd(ctx, "approve", st.PlanID, "--reason", "web moved to its own stack"); err != nil {
		return err
	}
	st, err = d.waitReconcile(ctx, base, st.LastReconcile)
	if err != nil {
		return err
	}
	if st.Outcome != "applied" {
		return fmt.Errorf("the approved plan was not applied: %s %s %s", st.Outcome, st.Reason, st.Error)
	}
	step("The webhook receiver got, signed and in order, the pending plan and the applies (gantry notifications lists them)")
	if err := hook.waitFor("plan.pending", "apply.succeeded"); err != nil {
		return err
	}
	if err := d.gantryCmd(ctx, "notifications", "--limit", "3"); err != nil {
		return err
	}
	if err := d.gantryCmd(ctx, "history", "shop", "--limit", "2"); err != nil {
		return err
	}
	return d.showMetrics(base)
}

// startEngine starts gantry run on config, serving on a free loopback
// port (base is its URL); stop ends it with SIGTERM, by its pid, and
// reports how it exited.
func (d *demo) startEngine(config string) (base string, stop func() error, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	step("Start the continuous engine: gantry run, on the same stacks (webhook secret and API token from the environment)")
	args := []string{"run", "--config", config, "--listen", addr, "--log-level", "info", "--wait=false", "--approval-poll", "1s"}
	fmt.Printf("$ GANTRY_WEBHOOK_SECRET=... GANTRY_API_TOKEN=... DEMO_HOOK_URL=... DEMO_HOOK_KEY=... gantry %s &\n", strings.Join(args, " "))
	cmd := exec.Command(d.gantry, args...)
	cmd.Dir = d.root
	cmd.Env = append(d.env, "GANTRY_WEBHOOK_SECRET="+demoSecret, "GANTRY_API_TOKEN="+demoToken, "DEMO_HOOK_URL="+d.hookURL, "DEMO_HOOK_KEY="+demoHookKey)
	logFile := filepath.Join(d.work, "gantry-run.log")
	logs, err := os.Create(logFile)
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		logs.Close()
		return "", nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() (err error) {
		defer logs.Close()
		step("Stop gantry run with SIGTERM (pid %d): it finishes cleanly", cmd.Process.Pid)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr := <-exited:
			if werr != nil {
				err = fmt.Errorf("gantry run exited with %v; see %s", werr, logFile)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			err = fmt.Errorf("gantry run did not stop within 30s of SIGTERM; see %s", logFile)
		}
		fmt.Printf("Its log (%s), last lines:\n%s\n", logFile, lastLines(logFile, 8))
		return err
	}
	return "http://" + addr, stop, nil
}

// pushApplied pushes a commit (four replicas) with its webhook: applied by
// itself.
func (d *demo) pushApplied(ctx context.Context, base, repo string, last stackStatus) (stackStatus, error) {
	step("Push a commit (four replicas) and deliver GitHub's push webhook: applied by itself")
	if err := d.commit(ctx, repo, "shop: four replicas", func() error {
		return replaceIn(filepath.Join(repo, "base", "deployment.yaml"), "replicas: 3", "replicas: 4")
	}); err != nil {
		return stackStatus{}, err
	}
	st, err := d.push(ctx, base, repo, last.LastReconcile)
	if err != nil {
		return stackStatus{}, err
	}
	if st.Outcome != "applied" {
		return stackStatus{}, fmt.Errorf("the commit was not applied: %s %s %s", st.Outcome, st.Reason, st.Error)
	}
	return st, d.gantryCmd(ctx, "history", "shop", "--limit", "1")
}

// pushPending pushes a commit deleting a third of the stack: the plan
// waits for a person.
func (d *demo) pushPending(ctx context.Context, base, repo string, last stackStatus) (stackStatus, error) {
	step("Push a commit deleting the Deployment: a third of the stack, more than maxPrunePercent 25%%, so the plan waits for a person")
	if err := d.commit(ctx, repo, "shop: web moves out", func() error {
		return os.WriteFile(filepath.Join(repo, "base", "kustomization.yaml"), []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"), 0o644)
	}); err != nil {
		return stackStatus{}, err
	}
	st, err := d.push(ctx, base, repo, last.LastReconcile)
	if err != nil {
		return stackStatus{}, err
	}
	if st.Outcome != "pending" {
		return stackStatus{}, fmt.Errorf("the deletion did not wait for approval: %s %s", st.Outcome, st.Reason)
	}
	if err := d.gantryCmd(ctx, "plans", "--pending", "--stack", "shop"); err != nil {
		return stackStatus{}, err
	}
	return st, d.gantryCmd(ctx, "show", st.PlanID)
}

// showMetrics prints gantry's own series of GET /metrics.
func (d *demo) showMetrics(base string) error {
	step("What the engine exports for Prometheus (GET /metrics, gantry's own series)")
	metrics, err := d.get(base + "/metrics")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "gantry_") && !strings.Contains(line, "_bucket") {
			fmt.Println(line)
		}
	}
	return nil
}

// stackStatus is what the demo reads of GET /api/v1/stacks.
type stackStatus struct {
	Outcome, Reason, Error string
	PlanID                 string    `json:"plan_id"`
	LastReconcile          time.Time `json:"last_reconcile"`
	Duration               int64     `json:"duration_ns"`
	Requests               int64
}

// waitReconcile waits for a reconcile of shop that ended after after.
func (d *demo) waitReconcile(ctx context.Context, base string, after time.Time) (stackStatus, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		body, err := d.get(base + "/api/v1/stacks")
		if err == nil {
			var out struct{ Stacks []stackStatus }
			if json.Unmarshal([]byte(body), &out) == nil && len(out.Stacks) == 1 && out.Stacks[0].LastReconcile.After(after) {
				return out.Stacks[0], nil
			}
		}
		select {
		case <-ctx.Done():
			return stackStatus{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return stackStatus{}, fmt.Errorf("gantry run did not reconcile within 2 minutes; see %s", filepath.Join(d.work, "gantry-run.log"))
}

// push delivers a signed GitHub push event for repo, as GitHub would after
// a push, and waits for the reconcile it triggers.
func (d *demo) push(ctx context.Context, base, repo string, after time.Time) (stackStatus, error) {
	body, err := json.Marshal(map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "demo/stack-repo", "clone_url": "file://" + repo}})
	if err != nil {
		return stackStatus{}, err
	}
	mac := hmac.New(sha256.New, []byte(demoSecret))
	mac.Write(body)
	fmt.Printf("$ curl -X POST %s/hooks/github -H 'X-GitHub-Event: push' -H 'X-Hub-Signature-256: sha256=…' -d '%s'\n", base, body)
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/hooks/github", bytes.NewReader(body))
	if err != nil {
		return stackStatus{}, err
	}
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return stackStatus{}, err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s %s", resp.Status, out)
	if resp.StatusCode != http.StatusAccepted {
		return stackStatus{}, fmt.Errorf("webhook refused: %s", resp.Status)
	}
	st, err := d.waitReconcile(ctx, base, after)
	if err == nil {
		fmt.Printf("reconciled: %s %s (plan %s, %s)\n", st.Outcome, st.Reason, st.PlanID, time.Duration(st.Duration).Round(time.Millisecond))
	}
	return st, err
}

func (d *demo) get(url string) (string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+demoToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// commit changes the stack repository with edit and commits it.
func (d *demo) commit(ctx context.Context, repo, msg string, edit func() error) error {
	if err := edit(); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"add", "-A"},
		{"-c", "user.name=gantry demo", "-c", "user.email=demo@gantry.invalid", "commit", "-q", "-m", msg},
	} {
		if err := d.command(ctx, repo, "git", args...); err != nil {
			return err
		}
	}
	return nil
}

func replaceIn(path, old, new string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(data), old) {
		return fmt.Errorf("%s: %q not found", path, old)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644)
}

func lastLines(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

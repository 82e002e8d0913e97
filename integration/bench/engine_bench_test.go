package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/stack"
)

// BenchmarkEngine runs `gantry run` (the real binary) on a stack of 10,000
// applied objects and measures one reconcile that finds nothing to do: its
// wall time, the engine's CPU time for it, its API requests (target: none
// beyond the watches) and the engine's resident memory (target: under 500
// MB), against kubectl diff --server-side of the same manifests on the same
// control plane.
func BenchmarkEngine(b *testing.B) {
	const n = 10000
	for b.Loop() {
		benchmarkEngine(b, n)
	}
}

func benchmarkEngine(b *testing.B, n int) {
	ns := env.Namespace(b)
	name := "engine" + strconv.Itoa(n)
	dsn := env.DB.NewDatabase(b)
	s := env.NewStackOn(b, stack.Stack{Name: name, Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 25}, dsn)
	repo := gittest.NewRepo(b)
	repo.Commit("v1", objects(n, "v1"))
	work := b.TempDir()
	cfg := filepath.Join(work, "gantry.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: %s\n  source: {repo: %s, ref: main, path: stack}\n  target: {namespace: %s}\n  schedule: {interval: 1h}\n", name, repo.Dir, ns)), 0o644); err != nil {
		b.Fatal(err)
	}

	// Apply the revision in process, and let the Deployment controller settle.
	s.Def.Source = stack.Source{Repo: repo.Dir, Ref: "main", Path: "stack"}
	p, err := s.Engine.Plan(context.Background(), engine.PlanRequest{Stack: s.Def, Cluster: s.Kube})
	if err != nil {
		b.Fatal(err)
	}
	s.Apply(b, p)
	settle(b, s, ns, n/3)

	port := freePort(b)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(env.Gantry(b), "run", "--config", cfg, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--wait=false", "--cache-dir", b.TempDir())
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig, "GANTRY_DATABASE_URL="+dsn, "XDG_CACHE_HOME="+b.TempDir(), "GANTRY_API_TOKEN=bench")
	logs, err := os.Create(filepath.Join(work, "run.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logs.Close()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	pid := cmd.Process.Pid

	// The first reconcile starts the watches and dry-runs what the
	// controller touched since the apply; the second is the steady state.
	first := waitReconcile(b, base, time.Time{}, 10*time.Minute)
	b.Logf("first reconcile (watches started, memo refreshed): %s, %d requests, outcome %s", time.Duration(first.Duration).Round(time.Millisecond), first.Requests, first.Outcome)
	var best engineStatus
	var bestCPU time.Duration
	for i := range 3 {
		prev := waitReconcile(b, base, time.Time{}, time.Minute)
		cpu0 := cpuTime(b, pid)
		trigger(b, base, name)
		st := waitReconcile(b, base, prev.LastReconcile, 5*time.Minute)
		cpu := cpuTime(b, pid) - cpu0
		if st.Outcome != "unchanged" {
			b.Fatalf("reconcile %d: outcome %s (%s), want unchanged", i, st.Outcome, st.Error)
		}
		if i == 0 || st.Duration < best.Duration {
			best, bestCPU = st, cpu
		}
	}
	rss, hwm := memory(b, pid)

	// kubectl diff of the same manifests, as field manager gantry.
	kdir := filepath.Join(work, "kubectl")
	writeManifests(b, kdir, p)
	kstart := time.Now()
	out, err := exec.Command("kubectl", "--kubeconfig", env.Cluster.Kubeconfig, "diff", "--server-side", "--field-manager=gantry", "-f", kdir).CombinedOutput()
	kwall := time.Since(kstart)
	if err != nil {
		b.Fatalf("kubectl diff (want no differences): %v\n%s", err, lastLines(string(out), 5))
	}

	wall := time.Duration(best.Duration)
	fmt.Printf("\n`gantry run`, %d objects (ConfigMaps, Deployments, Services), nothing to do, same control plane, same run:\n", n)
	fmt.Printf("| what | wall | CPU | API requests | engine RSS (peak) | kubectl diff --server-side | kubectl / gantry |\n|---|---|---|---|---|---|---|\n")
	fmt.Printf("| one reconcile (fetch, render, plan from the watch cache, gate) | %s | %s | %d | %d MiB (%d MiB) | %s | %.0f× |\n",
		wall.Round(time.Millisecond), bestCPU.Round(time.Millisecond), best.Requests, rss/1024, hwm/1024, kwall.Round(time.Millisecond), float64(kwall)/float64(wall))
	if best.Requests != 0 {
		b.Errorf("a no-change reconcile sent %d API requests, want 0 beyond the watches", best.Requests)
	}
	if rss > 500*1024 {
		b.Errorf("engine RSS %d MiB, over the 500 MB target", rss/1024)
	}
	b.ReportMetric(float64(wall.Milliseconds()), "reconcile-ms")
	b.ReportMetric(float64(bestCPU.Milliseconds()), "reconcile-cpu-ms")
	b.ReportMetric(float64(best.Requests), "reconcile-requests")
	b.ReportMetric(float64(rss/1024), "engine-rss-MiB")
	b.ReportMetric(float64(kwall)/float64(wall), "speedup-vs-kubectl-diff")
}

type engineStatus struct {
	Outcome       string    `json:"outcome"`
	Error         string    `json:"error"`
	LastReconcile time.Time `json:"last_reconcile"`
	Duration      int64     `json:"duration_ns"`
	Requests      int64     `json:"requests"`
}

// waitReconcile polls the engine's API until a reconcile newer than after
// has ended, and returns the stack's status.
func waitReconcile(b *testing.B, base string, after time.Time, timeout time.Duration) engineStatus {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var out struct{ Stacks []engineStatus }
		if err := getJSON(base+"/api/v1/stacks", &out); err == nil && len(out.Stacks) == 1 {
			st := out.Stacks[0]
			if !st.LastReconcile.IsZero() && st.LastReconcile.After(after) {
				if st.Outcome == "failed" {
					b.Fatalf("reconcile failed: %s", st.Error)
				}
				return st
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("no reconcile after %s within %s", after, timeout)
	return engineStatus{}
}

func getJSON(url string, v any) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer bench")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

// trigger asks the engine for a reconcile now (POST /api/v1/stacks/NAME/reconcile).
func trigger(b *testing.B, base, name string) {
	b.Helper()
	req, err := http.NewRequest("POST", base+"/api/v1/stacks/"+name+"/reconcile", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer bench")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Fatalf("trigger: %d", resp.StatusCode)
	}
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ
	return time.Duration(utime+stime) * time.Second / ticks
}

var vmRSS = regexp.MustCompile(`VmRSS:\s+(\d+) kB`)

// memory returns the process's resident and peak resident set, in KiB.
func memory(b *testing.B, pid int) (rss, hwm int64) {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	if m := vmRSS.FindSubmatch(data); m != nil {
		rss, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := vmHWM.FindSubmatch(data); m != nil {
		hwm, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	return rss, hwm
}

func freePort(b *testing.B) int {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

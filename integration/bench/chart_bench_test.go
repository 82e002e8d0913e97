package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/plan"
)

// BenchmarkChartPlan plans a chart stack with nothing to do: ingress-nginx
// (its default values, hooks included) from a Helm repository on loopback,
// pinned, applied once; then `gantry plan` (best of 3) against kubectl diff
// of the same rendered objects, in the same run. It reports the plan's
// time, its API requests, and the requests it sent the repository (a
// pinned chart already cached: none).
func BenchmarkChartPlan(b *testing.B) {
	ns := env.Namespace(b)
	r := helmtest.New(b, "", "")
	r.Publish(b, helmtest.Load(b, filepath.Join("..", "..", "testdata", "corpus", "charts", "ingress-nginx")), "", "4.15.1")
	dsn := env.DB.NewDatabase(b)
	work := b.TempDir()
	cfg := fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: ingress\n  source:\n    chart: {repository: %q, name: ingress-nginx, version: 4.15.1}\n  target: {namespace: %s}\n", r.URL, ns)
	if err := os.WriteFile(filepath.Join(work, "gantry.yaml"), []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	gantry, cacheDir := env.Gantry(b), b.TempDir()
	genv := append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig, "GANTRY_DATABASE_URL="+dsn, "XDG_CACHE_HOME="+b.TempDir())
	gantryPlan := func() measurement {
		b.Helper()
		_, stderr, wall, rss, code := run(b, work, genv, gantry, "plan", "--stack", "ingress", "--detailed-exitcode", "--out", "plan.json", "-o", "json", "--cache-dir", cacheDir)
		if code == 1 {
			b.Fatalf("gantry plan: %s", stderr)
		}
		return gantryMeasurement(b, "gantry plan", 0, stderr, wall, rss)
	}
	_, stderr, _, _, code := run(b, work, genv, gantry, "apply", "--stack", "ingress", "--auto-approve", "--wait=false", "--cache-dir", cacheDir)
	if code != 0 {
		b.Fatalf("gantry apply: %s", stderr)
	}
	gantryPlan() // fills the memo, as any plan after an apply
	r.Requests.Store(0)
	best := gantryPlan()
	for range 2 {
		if m := gantryPlan(); m.wall < best.wall {
			best = m
		}
	}
	repoRequests := r.Requests.Load()
	p := readPlan(b, filepath.Join(work, "plan.json"))
	if p.HasChanges() || best.dryRuns != 0 || repoRequests != 0 {
		b.Errorf("no-change plan of the chart: changes %v, %d dry-runs, %d requests to the repository; want none, 0, 0", p.HasChanges(), best.dryRuns, repoRequests)
	}
	objs := *p
	objs.Desired = nil
	for _, u := range p.Desired {
		if !plan.IsHook(u) {
			objs.Desired = append(objs.Desired, u)
		}
	}
	kdir := filepath.Join(work, "kubectl")
	writeManifests(b, kdir, &objs)
	kenv := append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig)
	_, kerr, kwall, krss, kcode := run(b, work, kenv, "kubectl", "diff", "--server-side", "--field-manager=gantry", "-v=6", "--cache-dir", cacheDir, "-f", kdir)
	if kcode > 1 {
		b.Fatalf("kubectl diff: exit %d: %s", kcode, lastLines(kerr, 5))
	}
	rows := []measurement{best, {tool: "kubectl diff --server-side", wall: kwall, requests: len(kubectlVerbs.FindAllString(kerr, -1)), rssKiB: krss}}
	printTable(b, fmt.Sprintf("ingress-nginx chart (%d objects, %d hooks) from a Helm repository, pinned, nothing to do; %d requests to the repository:", len(objs.Desired), len(p.Desired)-len(objs.Desired), repoRequests), "gantry plan", rows)
	b.ReportMetric(float64(best.wall.Milliseconds()), "nochange-ms")
	b.ReportMetric(float64(best.requests), "nochange-requests")
	b.ReportMetric(float64(repoRequests), "repository-requests")
	b.ReportMetric(float64(kwall)/float64(best.wall), "speedup-vs-kubectl")
}

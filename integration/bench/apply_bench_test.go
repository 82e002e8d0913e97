package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/gittest"
)

var gantryApplyStats = regexp.MustCompile(`(\d+) API requests \((\d+) writes\)`)

// BenchmarkApply compares gantry apply --auto-approve with kubectl apply
// --server-side: 1,000 new objects, then 100 of them changed.
func BenchmarkApply(b *testing.B) {
	const n = 1000
	for b.Loop() {
		gantryNS, kubectlNS := env.Namespace(b), env.Namespace(b)
		dsn := env.DB.NewDatabase(b)
		repo := gittest.NewRepo(b)
		files := objects(n, "v1")
		repo.Commit("v1", files)
		work := b.TempDir()
		if err := os.WriteFile(filepath.Join(work, "gantry.yaml"), []byte(fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: bench-apply\n  source: {repo: %s, ref: main, path: stack}\n  target: {namespace: %s}\n", repo.Dir, gantryNS)), 0o644); err != nil {
			b.Fatal(err)
		}
		cacheDir := b.TempDir()
		genv := append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig, "GANTRY_DATABASE_URL="+dsn, "XDG_CACHE_HOME="+b.TempDir())
		gantryApply := func(changed int, extra ...string) measurement {
			b.Helper()
			args := append([]string{"apply", "--stack", "bench-apply", "--auto-approve", "--cache-dir", cacheDir}, extra...)
			_, stderr, wall, rss, code := run(b, work, genv, env.Gantry(b), args...)
			if code != 0 {
				b.Fatalf("gantry apply: exit %d: %s", code, lastLines(stderr, 5))
			}
			m := gantryApplyStats.FindStringSubmatch(stderr)
			p := gantryStats.FindStringSubmatch(stderr)
			if m == nil || p == nil {
				b.Fatalf("no stats in %q", stderr)
			}
			applyReqs, _ := strconv.Atoi(m[1])
			planReqs, _ := strconv.Atoi(p[4])
			dryRuns, _ := strconv.Atoi(p[2])
			tool := "gantry apply --auto-approve"
			if len(extra) > 0 {
				tool += " " + strings.Join(extra, " ")
			}
			return measurement{tool: tool, changed: changed, wall: wall, requests: planReqs + applyReqs, dryRuns: dryRuns, rssKiB: rss}
		}
		// kubectl applies the same objects, rendered into its namespace.
		kdir := filepath.Join(work, "kubectl")
		writeFiles := func(f map[string]string) {
			b.Helper()
			if err := os.MkdirAll(kdir, 0o755); err != nil {
				b.Fatal(err)
			}
			for name, content := range f {
				content = strings.ReplaceAll(content, "metadata: {name: ", "metadata: {namespace: "+kubectlNS+", name: ")
				if err := os.WriteFile(filepath.Join(kdir, filepath.Base(name)), []byte(content), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
		kenv := append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig)
		kubectl := func(changed int) measurement {
			b.Helper()
			_, stderr, wall, rss, code := run(b, work, kenv, "kubectl", "apply", "--server-side", "--field-manager=kubectl-bench", "-v=6", "--cache-dir", cacheDir, "-f", kdir)
			if code != 0 {
				b.Fatalf("kubectl apply: exit %d: %s", code, lastLines(stderr, 5))
			}
			return measurement{tool: "kubectl apply --server-side", changed: changed, wall: wall, requests: len(kubectlVerbs.FindAllString(stderr, -1)), rssKiB: rss}
		}

		// Create: gantry without waiting (kubectl does not wait), then kubectl.
		rows := []measurement{gantryApply(n, "--wait=false")}
		writeFiles(files)
		rows = append(rows, kubectl(n))
		// Update 100 objects.
		changedFiles, _ := changeOnePercent(files, n*10) // the first 100 ConfigMaps
		repo.Commit("v2", changedFiles)
		writeFiles(changedFiles)
		rows = append(rows, gantryApply(100, "--wait=false"), kubectl(100))
		// And gantry's default: waiting until everything is ready.
		repo.Commit("v3", files)
		rows = append(rows, gantryApply(100))

		printTable(b, fmt.Sprintf("apply %d new objects, then change 100 (same control plane, same run):", n), "gantry apply --auto-approve --wait=false", rows)
		b.ReportMetric(float64(rows[1].wall)/float64(rows[0].wall), "create-speedup-vs-kubectl")
		b.ReportMetric(float64(rows[3].wall)/float64(rows[2].wall), "update-speedup-vs-kubectl")
		if speedup := float64(rows[1].wall) / float64(rows[0].wall); speedup < 3 {
			b.Errorf("create: gantry %s, kubectl %s: %.1f× faster, the target is 3×", rows[0].wall, rows[1].wall, speedup)
		}
	}
}

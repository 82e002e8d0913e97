package source_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

// cpuTime is the CPU time of this process and its waited-for children.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	sum := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return sum(self) + sum(children)
}

// BenchmarkRender renders corpus paths from a fetched commit (lazy view of
// the tree, kustomize or YAML decoding, sorting, digest): kustomizations in
// the sandbox process and, to compare, in this process; plain YAML in this
// process. kube-prometheus is rendered as plain YAML and as a kustomization
// listing its manifests. It reports wall and CPU time (this process and the
// sandbox) and, for podinfo, `kubectl kustomize` on the same files in the
// same run.
func BenchmarkRender(b *testing.B) {
	corpus, _ := filepath.Abs("../testdata/corpus")
	repo := gittest.NewRepo(b)
	repo.CopyDir(corpus, ".")
	repo.Write(map[string]string{"kube-prometheus/kustomization.yaml": kubePrometheusKustomization(b, filepath.Join(corpus, "kube-prometheus"))})
	repo.Commit("corpus", nil)
	commit, err := source.NewFetcher(source.FetchOptions{CacheDir: b.TempDir()}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		b.Fatal(err)
	}
	sandboxed, inProcess := source.DefaultRenderOptions(), source.InProcess(source.DefaultRenderOptions())
	for _, tc := range []struct {
		name, path string
		opts       source.RenderOptions
		kubectl    []string
	}{
		{"podinfo-overlay/sandboxed", "podinfo/deploy/overlays/production", sandboxed, []string{"kustomize", filepath.Join(corpus, "podinfo/deploy/overlays/production")}},
		{"podinfo-overlay/in-process", "podinfo/deploy/overlays/production", inProcess, nil},
		{"kube-prometheus-kustomization/sandboxed", "kube-prometheus", sandboxed, nil},
		{"kube-prometheus-kustomization/in-process", "kube-prometheus", inProcess, nil},
		{"kube-prometheus-yaml", "kube-prometheus/manifests", sandboxed, nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var rev *source.Revision
			b.ReportAllocs()
			start, cpu := time.Now(), cpuTime()
			for b.Loop() {
				rev, err = commit.Render(context.Background(), tc.path, tc.opts)
				if err != nil {
					b.Fatal(err)
				}
			}
			gantry := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64((cpuTime()-cpu)/time.Duration(b.N))/1e6, "cpu-ms/op")
			b.ReportMetric(float64(len(rev.Objects)), "objects")
			b.ReportMetric(float64(rev.BytesRead), "bytes-read")
			if tc.kubectl == nil {
				return
			}
			const runs = 5
			kstart := time.Now()
			for range runs {
				if out, err := exec.Command("kubectl", tc.kubectl...).CombinedOutput(); err != nil {
					b.Fatalf("kubectl %v: %v\n%s", tc.kubectl, err, out)
				}
			}
			kubectl := time.Since(kstart) / runs
			b.ReportMetric(float64(kubectl.Microseconds())/1000, "kubectl-ms/op")
			b.ReportMetric(float64(gantry)/float64(kubectl), "ratio-vs-kubectl")
		})
	}
}

// kubePrometheusKustomization lists kube-prometheus's manifests as the
// resources of one kustomization.
func kubePrometheusKustomization(b *testing.B, dir string) string {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(files)
	return "resources:\n- " + strings.Join(files, "\n- ") + "\n"
}

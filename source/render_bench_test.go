package source_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

// BenchmarkRender renders corpus paths from a fetched commit (tree copied to
// memory, kustomize or YAML decoding, sorting, digest) and runs
// `kubectl kustomize` / `kubectl create --dry-run=client` equivalents on the
// same files in the same run, reporting gantry's time, kubectl's, and the ratio.
func BenchmarkRender(b *testing.B) {
	corpus, _ := filepath.Abs("../testdata/corpus")
	repo := gittest.NewRepo(b)
	repo.CopyDir(corpus, ".")
	repo.Commit("corpus", nil)
	commit, err := source.NewFetcher(source.FetchOptions{CacheDir: b.TempDir()}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		kubectl    []string
	}{
		{"podinfo-overlay", "podinfo/deploy/overlays/production", []string{"kustomize", filepath.Join(corpus, "podinfo/deploy/overlays/production")}},
		{"kube-prometheus", "kube-prometheus/manifests", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var objects int
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				rev, err := commit.Render(context.Background(), tc.path, source.DefaultRenderOptions())
				if err != nil {
					b.Fatal(err)
				}
				objects = len(rev.Objects)
			}
			gantry := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(objects), "objects")
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

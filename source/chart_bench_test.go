package source_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/source/helm"
)

// BenchmarkRenderChart renders the ingress-nginx chart of the corpus from a
// fetched commit (the chart's files read lazily from the commit, rendered,
// decoded and checked into objects) as a trusted stack's (in this process:
// as every reconcile renders its commit again, the commit's objects
// already inflated in the process's cache, as the SDK reads the chart's
// files from the page cache; and cold, none of them read before, as the
// first render of a new clone) and an untrusted branch's (in the sandbox
// process), and, in the same run, as the Helm SDK's `helm template` (its
// install action in client-only dry-run, the chart loaded from disk), and
// reports gantry's time over the SDK's.
func BenchmarkRenderChart(b *testing.B) {
	corpus, _ := filepath.Abs("../testdata/corpus")
	repo := gittest.NewRepo(b)
	repo.CopyDir(filepath.Join(corpus, "charts"), "charts")
	repo.Commit("charts", nil)
	commit, err := source.NewFetcher(source.FetchOptions{CacheDir: b.TempDir()}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		b.Fatal(err)
	}
	chartDir := filepath.Join(corpus, "charts", "ingress-nginx")
	helmTemplate := func() time.Duration {
		start := time.Now()
		ch, err := loader.LoadDir(chartDir)
		if err != nil {
			b.Fatal(err)
		}
		inst := action.NewInstall(&action.Configuration{})
		inst.DryRunStrategy, inst.Replace, inst.IncludeCRDs = action.DryRunClient, true, true
		inst.ReleaseName, inst.Namespace = "release", "ingress"
		caps, _ := helm.Capabilities(helm.Options{})
		inst.KubeVersion = &caps.KubeVersion
		if _, err := inst.RunWithContext(context.Background(), ch, map[string]any{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	opts := source.DefaultRenderOptions()
	opts.Helm = &source.HelmOptions{ReleaseName: "release", Namespace: "ingress"}
	untrusted := source.UntrustedRenderOptions()
	untrusted.Helm = opts.Helm
	for _, bench := range []struct {
		name string
		opts source.RenderOptions
		cold bool
	}{{"trusted (in process)", opts, false}, {"trusted, cold (no object read before)", opts, true}, {"untrusted (sandboxed)", untrusted, false}} {
		o := bench.opts
		b.Run("ingress-nginx/"+bench.name, func(b *testing.B) {
			var rev *source.Revision
			var sdk, gantry time.Duration
			for b.Loop() {
				if bench.cold {
					source.ForgetObjects()
				}
				start := time.Now()
				if rev, err = commit.Render(context.Background(), "charts/ingress-nginx", o); err != nil {
					b.Fatal(err)
				}
				gantry += time.Since(start)
			}
			gantry /= time.Duration(b.N)
			for range b.N {
				sdk += helmTemplate()
			}
			sdk /= time.Duration(b.N)
			b.ReportMetric(float64(len(rev.Objects)), "objects")
			b.ReportMetric(float64(sdk.Microseconds())/1000, "helm-template-ms/op")
			b.ReportMetric(float64(gantry)/float64(sdk), "ratio-vs-helm-template")
		})
	}
}

package integration

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/source/helmrepo"
	"github.com/gantryops/gantry/stack"
)

// TestChartFromHelmRepository deploys podinfo from a real Helm repository
// on loopback: planned auto == server and applied; a plan of the pinned
// version from the cache sends no request to the repository; a range moves
// the stack to 6.15.0, whose archive dropped the Service, and its apply
// prunes it; then, the repository stopped, a restore of revision 1 from
// Postgres alone brings the Service back. The plan and the record name the
// repository, the chart, the version and the archive's digest.
func TestChartFromHelmRepository(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := env.Namespace(t)
	r := helmtest.New(t, "", "")
	ch := helmtest.Load(t, filepath.Join("..", "testdata", "corpus", "charts", "podinfo"))
	r.Publish(t, ch, "", "6.14.1")
	ch.Templates = slices.DeleteFunc(ch.Templates, func(f *common.File) bool { return f.Name == "templates/service.yaml" })
	r.Publish(t, ch, "", "6.15.0")

	s := env.NewStack(t, stack.Stack{Name: "podinfo-repo", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100,
		Source: stack.Source{Chart: &stack.Chart{Repository: r.URL, Name: "podinfo", Version: "6.14.1"}, Helm: &stack.Helm{Values: map[string]any{"replicaCount": 2}}}})
	charts, err := helmrepo.New(helmrepo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Engine = engine.New(s.Store, source.NewFetcher(source.FetchOptions{CacheDir: t.TempDir()}), engine.Options{Charts: charts})
	serviceLive := func() bool {
		_, err := s.Dynamic.Resource(services).Namespace(ns).Get(ctx, "podinfo-repo", metav1.GetOptions{}) // the release name holds the chart's: fullname is the release
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}

	first := planBoth(t, s, "install")
	src := first.Source
	if src.Kind != plan.SourceHelmRepository || src.Path != "podinfo" || src.Version != "6.14.1" || len(src.Commit) != 64 {
		t.Errorf("the plan's source %+v does not name the repository's chart, version and digest", src)
	}
	s.Apply(t, first)
	if !serviceLive() {
		t.Fatal("the chart's Service is not live after the apply")
	}
	r.Requests.Store(0)
	if p := planBoth(t, s, "pinned, nothing to do"); p.HasChanges() || r.Requests.Load() != 0 {
		t.Errorf("a pinned chart from the cache: changes %v, %d requests to the repository; want none and 0", harness.Changes(p), r.Requests.Load())
	}

	s.Def.Source.Chart.Version = "6.15.x"
	upgrade := planBoth(t, s, "range to 6.15.0")
	if upgrade.Source.Version != "6.15.0" || upgrade.Source.Commit == src.Commit {
		t.Errorf("the range resolved to %s (%s)", upgrade.Source.Version, upgrade.Source.Commit)
	}
	s.Apply(t, upgrade)
	if serviceLive() {
		t.Error("the Service 6.15.0 dropped was not pruned")
	}

	r.Close() // the repository is gone: restore works from Postgres alone
	restore, err := s.Engine.Restore(ctx, engine.RestoreRequest{Stack: "podinfo-repo", Cluster: s.Kube, To: "1"})
	if err != nil {
		t.Fatalf("restore with the repository down: %v", err)
	}
	s.Apply(t, restore.Plan)
	if !serviceLive() {
		t.Error("the restore of revision 1 did not bring the Service back")
	}
}

// TestCLIChartFromHelmRepository applies a chart of a private Helm
// repository ad hoc (--chart-repo, --chart, --chart-version) with the
// credentials in the environment: applied, and the password in no output.
func TestCLIChartFromHelmRepository(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := helmtest.New(t, "ci", "hunter2-helm")
	r.Publish(t, helmtest.Load(t, filepath.Join("..", "testdata", "corpus", "charts", "podinfo")), "", "6.14.1")
	c := newCLI(t, env.DB.NewDatabase(t))
	c.env = append(c.env, "GANTRY_HELM_REPOSITORY="+r.URL, "GANTRY_HELM_USERNAME=ci", "GANTRY_HELM_PASSWORD=hunter2-helm")
	out, errOut, code := c.run("apply", "--auto-approve", "--wait=false", "--chart-repo", r.URL, "--chart", "podinfo", "--chart-version", "6.14.x", "--namespace", ns)
	if code != 0 || !strings.Contains(out, "Apply complete! Resources: 2 added, 0 changed, 0 destroyed.") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "hunter2-helm") {
		t.Error("the repository's password is in gantry's output")
	}
	if _, err := env.Clientset(t).AppsV1().Deployments(ns).Get(context.Background(), "podinfo", metav1.GetOptions{}); err != nil {
		t.Errorf("the chart's Deployment: %v", err)
	}
	c.env = c.env[:len(c.env)-3]
	if _, errOut, code := c.run("plan", "--chart-repo", r.URL, "--chart", "podinfo", "--chart-version", "6.14.x", "--namespace", ns); code == 0 || !strings.Contains(errOut, "401 Unauthorized") {
		t.Errorf("without credentials: exit %d, %s", code, errOut)
	}
}

// TestChartFromOCIRegistry deploys podinfo pushed to a real OCI registry
// on loopback (oci://): planned auto == server and applied, the plan's
// source naming the registry and the chart layer's digest; a plan of the
// pinned version from the cache sends no request to the registry.
func TestChartFromOCIRegistry(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	reg := helmtest.NewRegistry(t)
	reg.Push(t, helmtest.Load(t, filepath.Join("..", "testdata", "corpus", "charts", "podinfo")), "charts", "6.14.1", "")
	s := env.NewStack(t, stack.Stack{Name: "podinfo-oci", Target: stack.Target{Namespace: ns}, Prune: true,
		Source: stack.Source{Chart: &stack.Chart{Repository: "oci://" + reg.Host() + "/charts", Name: "podinfo", Version: "6.14.1"}}})
	charts, err := helmrepo.New(helmrepo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Engine = engine.New(s.Store, source.NewFetcher(source.FetchOptions{CacheDir: t.TempDir()}), engine.Options{Charts: charts})
	first := planBoth(t, s, "install")
	if first.Source.Kind != plan.SourceHelmRepository || !strings.HasPrefix(first.Source.Repo, "oci://") || len(first.Source.Commit) != 64 || !first.HasChanges() {
		t.Errorf("the plan's source %+v, changes %v", first.Source, harness.Changes(first))
	}
	s.Apply(t, first)
	reg.Requests.Store(0)
	if p := planBoth(t, s, "pinned, nothing to do"); p.HasChanges() || reg.Requests.Load() != 0 {
		t.Errorf("a pinned chart from the cache: changes %v, %d requests to the registry; want none and 0", harness.Changes(p), reg.Requests.Load())
	}
}

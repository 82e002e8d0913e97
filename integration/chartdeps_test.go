package integration

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/source/helmrepo"
	"github.com/gantryops/gantry/stack"
)

// webChart is a chart in Git that depends on podinfo from repo, its
// charts/ empty (not vendored), with a Chart.lock pinning lockedVersion
// when it is set.
func webChart(repo, constraint, lockedVersion string) map[string]string {
	files := map[string]string{
		"chart/Chart.yaml":          "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n  - name: podinfo\n    version: \"" + constraint + "\"\n    repository: " + repo + "\n",
		"chart/values.yaml":         "podinfo:\n  replicaCount: 1\n",
		"chart/templates/site.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site}\ndata: {release: {{ .Release.Name | quote }}}\n",
	}
	if lockedVersion != "" {
		files["chart/Chart.lock"] = "dependencies:\n- name: podinfo\n  repository: " + repo + "\n  version: " + lockedVersion + "\ndigest: sha256:0000000000000000000000000000000000000000000000000000000000000000\ngenerated: \"2026-12-01T00:00:00Z\"\n"
	}
	return files
}

// TestChartDependenciesFetched renders a chart in Git whose dependency
// (the corpus's podinfo) is not vendored: fetched from the Helm repository
// the stack allows, at Chart.lock's version though a newer one matches the
// range; planned auto == server, applied, the dependency named in the
// plan's source with its digest; planned again with no request to the
// repository. A stack that allows no repository, or another one, is
// refused by name; a dependency from an OCI registry is fetched the same
// way.
func TestChartDependenciesFetched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := env.Namespace(t)
	r := helmtest.New(t, "", "")
	podinfo := helmtest.Load(t, filepath.Join("..", "testdata", "corpus", "charts", "podinfo"))
	r.Publish(t, podinfo, "", "6.14.1", "6.15.0")
	repo := gittest.NewRepo(t)
	repo.Commit("web", webChart(r.URL, "6.x", "6.14.1"))

	def := stack.Stack{Name: "web-deps", Target: stack.Target{Namespace: ns}, Prune: true,
		Source: stack.Source{Repo: repo.Dir, Ref: "main", Path: "chart", Helm: &stack.Helm{DependencyRepositories: []string{r.URL + "/"}}}}
	s := env.NewStack(t, def)
	charts, err := helmrepo.New(helmrepo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Engine = engine.New(s.Store, source.NewFetcher(source.FetchOptions{CacheDir: t.TempDir()}), engine.Options{Charts: charts})

	first := planBoth(t, s, "a dependency fetched")
	if len(first.Source.Dependencies) != 1 || !strings.HasPrefix(first.Source.Dependencies[0], "podinfo 6.14.1 ") {
		t.Errorf("the plan's source names dependencies %v, want podinfo 6.14.1 (Chart.lock's) and its digest", first.Source.Dependencies)
	}
	var kinds []string
	for _, c := range first.Changes {
		kinds = append(kinds, c.Ref.Kind+"/"+c.Ref.Name)
	}
	if !slices.Contains(kinds, "Deployment/web-deps-podinfo") || !slices.Contains(kinds, "ConfigMap/site") {
		t.Errorf("the plan creates %v, want the chart's ConfigMap and its dependency's Deployment", kinds)
	}
	s.Apply(t, first)
	if _, err := env.Clientset(t).AppsV1().Deployments(ns).Get(ctx, "web-deps-podinfo", metav1.GetOptions{}); err != nil {
		t.Errorf("the dependency's Deployment: %v", err)
	}
	r.Requests.Store(0)
	if p := planBoth(t, s, "pinned by the lock, cached"); p.HasChanges() || r.Requests.Load() != 0 {
		t.Errorf("a locked dependency from the cache: changes %v, %d requests; want none and 0", harness.Changes(p), r.Requests.Load())
	}

	for _, row := range []struct {
		allowed []string
		want    string
	}{
		{nil, "chart web lists dependencies its charts/ does not hold: podinfo 6.14.1 (" + r.URL + ")"},
		{[]string{"https://charts.example.com"}, "is not one stack web-deps allows"},
	} {
		bad := def
		bad.Source.Helm = &stack.Helm{DependencyRepositories: row.allowed}
		_, err := s.Engine.Plan(ctx, engine.PlanRequest{Stack: bad, Cluster: s.Kube, Mode: plan.DiffServer, Actor: "test"})
		if err == nil || !strings.Contains(err.Error(), row.want) {
			t.Errorf("allowed %v: %v, want %q", row.allowed, err, row.want)
		}
	}

	reg := helmtest.NewRegistry(t)
	reg.Push(t, helmtest.Load(t, filepath.Join("..", "testdata", "corpus", "charts", "podinfo")), "charts", "6.14.1", "")
	oci := "oci://" + reg.Host() + "/charts"
	repo.Commit("from a registry", webChart(oci, "6.14.1", ""))
	viaOCI := def
	viaOCI.Source.Helm = &stack.Helm{DependencyRepositories: []string{oci}}
	p, err := s.Engine.Plan(ctx, engine.PlanRequest{Stack: viaOCI, Cluster: s.Kube, Mode: plan.DiffServer, Actor: "test"})
	if err != nil {
		t.Fatalf("a dependency from an OCI registry: %v", err)
	}
	if len(p.Source.Dependencies) != 1 || !strings.HasPrefix(p.Source.Dependencies[0], "podinfo 6.14.1 ") || p.HasChanges() {
		t.Errorf("from the registry: dependencies %v, changes %v; want podinfo 6.14.1 and none (the same chart)", p.Source.Dependencies, harness.Changes(p))
	}
}

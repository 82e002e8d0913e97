package integration

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

var hpas = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}

// planBoth plans the stack's source (Git or a chart) with --diff=server
// and --diff=auto, requires the two plans to be equal, and returns the
// auto one.
func planBoth(t *testing.T, s *harness.Stack, situation string) *plan.Plan {
	t.Helper()
	var plans [2]*plan.Plan
	for i, mode := range []plan.DiffMode{plan.DiffServer, plan.DiffAuto} {
		p, err := s.Engine.Plan(context.Background(), engine.PlanRequest{Stack: s.Def, Cluster: s.Kube, Mode: mode, Actor: "test"})
		if err != nil {
			t.Fatalf("%s (%s): %v", situation, mode, err)
		}
		plans[i] = p
	}
	if diff := cmp.Diff(harness.Shape(plans[0]), harness.Shape(plans[1])); diff != "" {
		t.Fatalf("%s: the auto plan differs from the server plan (-server +auto)\n%s", situation, diff)
	}
	return plans[1]
}

// corpusChart returns a corpus chart's files under prefix, as a commit holds them.
func corpusChart(t *testing.T, chart, prefix string) map[string]string {
	t.Helper()
	return helmtest.Files(t, filepath.Join("..", "testdata", "corpus", "charts", chart), prefix)
}

// TestChartFromGit plans and applies the podinfo chart from a Git
// repository (a path holding Chart.yaml, values from a file of the commit
// and from gantry.yaml) and requires --diff=auto and --diff=server to agree
// on an empty namespace, right after the apply, after its Service was
// deleted out of band (drift),
// and after a commit that bumps the chart's version and drops the
// HorizontalPodAutoscaler, whose apply then prunes it.
func TestChartFromGit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	files := corpusChart(t, "podinfo", "charts/podinfo")
	files["env/podinfo.yaml"] = "hpa: {enabled: true, maxReplicas: 4}\nui: {message: from-git}\n"
	repo.Commit("podinfo 6.14.1", files)
	def := stack.Stack{Name: "podinfo", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100,
		Source: stack.Source{Repo: repo.Dir, Ref: "main", Path: "charts/podinfo",
			Helm: &stack.Helm{ReleaseName: "web", ValuesFiles: []string{"env/podinfo.yaml"}, Values: map[string]any{"logLevel": "debug"}}}}
	s := env.NewStack(t, def)

	first := planBoth(t, s, "empty namespace")
	if !strings.HasPrefix(first.Source.Values, object.KeyedPrefix) {
		t.Errorf("the plan's source records no keyed digest of the chart's values: %+v", first.Source)
	}
	kinds := map[string]int{}
	for _, ch := range first.Changes {
		kinds[ch.Ref.Kind]++
		if ch.Action != plan.ActionCreate {
			t.Errorf("empty namespace: %s is %s", ch.Ref, ch.Action)
		}
	}
	if want := map[string]int{"Deployment": 1, "Service": 1, "HorizontalPodAutoscaler": 1}; !cmp.Equal(want, kinds) {
		t.Errorf("the chart planned %v, want %v (no test hooks)", kinds, want)
	}
	s.Apply(t, first)
	d, err := s.Dynamic.Resource(deployments).Namespace(ns).Get(ctx, "web-podinfo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := json.Marshal(d.Object["spec"]); !strings.Contains(string(js), "--level=debug") || !strings.Contains(string(js), "from-git") {
		t.Errorf("the live Deployment lacks gantry.yaml's value (--level=debug) or the values file's (from-git): %s", js)
	}
	if p := planBoth(t, s, "after apply"); p.HasChanges() {
		t.Errorf("right after the apply the plan changes %v", harness.Changes(p))
	}

	if err := s.Dynamic.Resource(services).Namespace(ns).Delete(ctx, "web-podinfo", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := planBoth(t, s, "after the Service was deleted out of band"); len(p.Changes) == 0 || !slices.ContainsFunc(p.Changes, func(c plan.Change) bool {
		return c.Ref.Kind == "Service" && c.Action == plan.ActionCreate && c.Drift
	}) {
		t.Errorf("the deleted Service is not planned back as drift: %v", harness.Changes(p))
	}

	bump := map[string]string{
		"charts/podinfo/Chart.yaml": strings.Replace(files["charts/podinfo/Chart.yaml"], "version: 6.14.1", "version: 6.14.2", 1),
		"env/podinfo.yaml":          "hpa: {enabled: false}\nui: {message: bumped}\n",
	}
	if bump["charts/podinfo/Chart.yaml"] == files["charts/podinfo/Chart.yaml"] {
		t.Fatal("the version bump did not apply: Chart.yaml has no version 6.14.1")
	}
	repo.Commit("podinfo 6.14.2 without HPA", bump)
	upgrade := planBoth(t, s, "after a version bump")
	deleted := 0
	for _, ch := range upgrade.Changes {
		if ch.Action == plan.ActionDelete {
			deleted++
			if ch.Ref.Kind != "HorizontalPodAutoscaler" {
				t.Errorf("the upgrade deletes %s", ch.Ref)
			}
		}
	}
	if deleted != 1 {
		t.Errorf("the upgrade deletes %d objects, want the HorizontalPodAutoscaler", deleted)
	}
	s.Apply(t, upgrade)
	if _, err := s.Dynamic.Resource(hpas).Namespace(ns).Get(ctx, "web-podinfo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the HorizontalPodAutoscaler the new version dropped is still live: %v", err)
	}
	if p := planBoth(t, s, "after the upgrade"); p.HasChanges() || p.Source.Values != first.Source.Values {
		t.Errorf("right after the upgrade the plan changes %v, or the same values digest differently", harness.Changes(p))
	}
	s.Def.Source.Helm.Values = map[string]any{"logLevel": "info"}
	if p := planBoth(t, s, "other values"); !p.HasChanges() || p.Source.Values == first.Source.Values {
		t.Errorf("other values: changes %v, values digest %s (was %s)", harness.Changes(p), p.Source.Values, first.Source.Values)
	}
}

// TestChartCapabilities: a chart planned against the cluster sees the
// API server's version and the APIs it serves (group/versions and kinds)
// in .Capabilities; planned with --diff=local it sees the fixed set
// (docs/sources.md).
func TestChartCapabilities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := gittest.NewRepo(t)
	repo.Commit("caps", map[string]string{
		"chart/Chart.yaml": "apiVersion: v2\nname: caps\nversion: 0.1.0\n",
		"chart/templates/caps.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caps}\ndata:\n" +
			"  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n" +
			"  leases: {{ .Capabilities.APIVersions.Has \"coordination.k8s.io/v1/Lease\" | quote }}\n" +
			"  flowcontrol: {{ .Capabilities.APIVersions.Has \"flowcontrol.apiserver.k8s.io/v1\" | quote }}\n",
	})
	s := env.NewStack(t, stack.Stack{Name: "caps", Target: stack.Target{Namespace: env.Namespace(t)}, Prune: true,
		Source: stack.Source{Repo: repo.Dir, Ref: "main", Path: "chart"}})
	version, err := discovery.NewDiscoveryClientForConfigOrDie(env.Cluster.Config).ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	// The fixed set lists group/versions only, as Helm's default set does;
	// the cluster's lists each kind too.
	for mode, want := range map[plan.DiffMode][2]string{plan.DiffServer: {version.GitVersion, "true"}, plan.DiffLocal: {"v1.37.0", "false"}} {
		p, err := s.Engine.Plan(ctx, engine.PlanRequest{Stack: s.Def, Cluster: s.Kube, Mode: mode, Actor: "test", ReadOnly: true})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		data, _, _ := unstructured.NestedStringMap(p.Desired[0].Object, "data")
		if data["kube"] != want[0] || data["leases"] != want[1] || data["flowcontrol"] != "true" {
			t.Errorf("%s: the chart saw %v; want kube %s, leases (a kind) %s, flowcontrol (a group/version) true", mode, data, want[0], want[1])
		}
	}
	if version.GitVersion == "v1.37.0" {
		t.Fatal("the control plane's version is the fixed one: the test cannot tell them apart")
	}
}

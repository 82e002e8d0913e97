package integration

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

// TestCorpusCharts runs the corpus's larger charts through the cycle
// TestChartFromGit runs podinfo through, on the real control plane: auto
// == server on an empty namespace, right after the apply, after an object
// deleted out of band (planned back as drift), and after a commit that
// bumps the chart's version and drops an object, whose apply prunes it.
// ingress-nginx runs without its admission webhook (a cluster-wide
// webhook whose Service never becomes ready here would refuse every other
// test's Ingress); cert-manager with its defaults, its post-install hook
// (startupapicheck, a Job) included, and its leader-election Roles in
// kube-system.
func TestCorpusCharts(t *testing.T) {
	t.Parallel()
	rows := []struct {
		chart, release, version string
		values                  map[string]any
		drift                   object.Ref // deleted out of band
		bump                    map[string]any
		dropped                 object.Ref // gone after the bump
	}{
		{chart: "ingress-nginx", release: "ing", version: "4.15.1",
			values:  map[string]any{"controller": map[string]any{"admissionWebhooks": map[string]any{"enabled": false}}},
			drift:   object.Ref{Kind: "ConfigMap", Name: "ing-ingress-nginx-controller"},
			bump:    map[string]any{"controller": map[string]any{"admissionWebhooks": map[string]any{"enabled": false}, "service": map[string]any{"enabled": false}}},
			dropped: object.Ref{Kind: "Service", Name: "ing-ingress-nginx-controller"}},
		{chart: "cert-manager", release: "cm", version: "v0.0.0",
			drift:   object.Ref{Kind: "Service", Name: "cm-cert-manager"},
			bump:    map[string]any{"cainjector": map[string]any{"enabled": false}},
			dropped: object.Ref{Group: "apps", Kind: "Deployment", Name: "cm-cert-manager-cainjector"}},
	}
	for _, row := range rows {
		t.Run(row.chart, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ns := env.Namespace(t)
			repo := gittest.NewRepo(t)
			files := corpusChart(t, row.chart, "chart")
			repo.Commit(row.chart, files)
			s := env.NewStack(t, stack.Stack{Name: "corpus-" + row.release, Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100,
				Source: stack.Source{Repo: repo.Dir, Ref: "main", Path: "chart", Helm: &stack.Helm{ReleaseName: row.release, Values: row.values}}})

			first := planBoth(t, s, "empty namespace")
			add, _, _ := first.Summary()
			t.Logf("%s: %d objects to create, %d hooks to run", row.chart, add, first.Hooks())
			if add < 8 {
				t.Errorf("%s plans %d objects to create: the chart rendered next to nothing", row.chart, add)
			}
			for _, c := range first.Changes {
				if c.Action != plan.ActionCreate {
					t.Errorf("empty namespace: %s is %s", c.Ref, c.Action)
				}
			}
			s.Apply(t, first)
			if p := planBoth(t, s, "after apply"); p.HasChanges() {
				t.Fatalf("right after the apply the plan changes %v", harness.Changes(p))
			}

			res := resourceOf(row.drift)
			if err := s.Dynamic.Resource(res).Namespace(ns).Delete(ctx, row.drift.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			drift := planBoth(t, s, "after an object was deleted out of band")
			found := false
			for _, c := range drift.Changes {
				if c.Ref.Kind == row.drift.Kind && c.Ref.Name == row.drift.Name && c.Action == plan.ActionCreate && c.Drift {
					found = true
				} else if c.Action != plan.ActionNoop && c.Hook == nil {
					t.Errorf("after %s was deleted the plan also %s %s", row.drift.Name, c.Action, c.Ref)
				}
			}
			if !found {
				t.Errorf("the deleted %s is not planned back as drift: %v", row.drift, harness.Changes(drift))
			}
			s.Apply(t, drift)

			bumped := strings.Replace(files["chart/Chart.yaml"], "version: "+row.version, "version: 99.0.0", 1)
			if bumped == files["chart/Chart.yaml"] {
				t.Fatalf("Chart.yaml has no version %s", row.version)
			}
			repo.Commit("bump", map[string]string{"chart/Chart.yaml": bumped})
			s.Def.Source.Helm.Values = row.bump
			upgrade := planBoth(t, s, "after a version bump")
			deletes := map[string]bool{}
			for _, c := range upgrade.Changes {
				if c.Action == plan.ActionDelete {
					deletes[c.Ref.Kind+"/"+c.Ref.Name] = true
				}
			}
			if !deletes[row.dropped.Kind+"/"+row.dropped.Name] {
				t.Errorf("the upgrade deletes %v, want %s among them", deletes, row.dropped)
			}
			s.Apply(t, upgrade)
			if _, err := s.Dynamic.Resource(resourceOf(row.dropped)).Namespace(ns).Get(ctx, row.dropped.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("%s, dropped by the new version, is still live: %v", row.dropped, err)
			}
			if p := planBoth(t, s, "after the upgrade"); p.HasChanges() {
				t.Errorf("right after the upgrade the plan changes %v", harness.Changes(p))
			}
		})
	}
}

// resourceOf is the resource of a core or apps kind the test deletes or
// reads.
func resourceOf(ref object.Ref) schema.GroupVersionResource {
	if ref.Group == "apps" {
		return schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: strings.ToLower(ref.Kind) + "s"}
	}
	return schema.GroupVersionResource{Version: "v1", Resource: strings.ToLower(ref.Kind) + "s"}
}

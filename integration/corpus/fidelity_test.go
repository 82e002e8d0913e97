package corpus

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/integration/harness"
)

func render(t *testing.T, path string) *harness.FidelityCase {
	t.Helper()
	objs := harness.Render(t, filepath.Join("../../testdata/corpus", path))
	name := strings.ReplaceAll(strings.TrimPrefix(path, "podinfo/deploy/overlays/"), "/", "-")
	return &harness.FidelityCase{Name: "corpus-" + name, Objects: objs}
}

// TestCorpusFidelity plans the podinfo overlays and kube-prometheus (setup
// and manifests in one revision: CRDs, a Namespace, and resources of both)
// in the four situations and requires auto plans to equal server plans.
func TestCorpusFidelity(t *testing.T) {
	t.Parallel()
	for _, path := range []string{
		"podinfo/deploy/overlays/dev",
		"podinfo/deploy/overlays/staging",
		"podinfo/deploy/overlays/production",
		"kube-prometheus/manifests",
	} {
		c := render(t, path)
		c.Applied = allApplied(len(c.Objects))
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			env.CheckFidelity(t, *c)
		})
	}
}

// allApplied checks that one apply created all n objects of a revision
// (kube-prometheus: CRDs, its Namespace, custom resources of those CRDs and
// ~90 others, in one plan).
func allApplied(n int) func(*testing.T, *apply.Report) {
	return func(t *testing.T, r *apply.Report) {
		t.Helper()
		counts := map[apply.Result]int{}
		for _, o := range r.Outcomes {
			counts[o.Result]++
		}
		if counts[apply.ResultApplied] != n || len(r.Outcomes) != n {
			t.Errorf("first apply: %v over %d outcomes, want all %d applied", counts, len(r.Outcomes), n)
		}
		if added, _, _ := r.Summary(); added != n {
			t.Errorf("first apply added %d, want %d", added, n)
		}
	}
}

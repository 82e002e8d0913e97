package corpus

import (
	"path/filepath"
	"strings"
	"testing"

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
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			env.CheckFidelity(t, *c)
		})
	}
}

package corpus

import (
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/source"
)

func render(t *testing.T, path string) *harness.FidelityCase {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("../../testdata/corpus", path))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := source.Render(filesys.MakeFsOnDisk(), dir, source.DefaultRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
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

package source_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

// TestRenderUntrusted renders repositories an attacker controls (a pull
// request from a fork) with UntrustedRenderOptions: each attack is refused
// with an error naming what was refused, nothing runs, and nothing outside
// the commit is read.
func TestRenderUntrusted(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "exec-plugin-ran")
	outside := filepath.Join(t.TempDir(), "host-secret.yaml")
	if err := os.WriteFile(outside, []byte(configMap("host-secret", "stolen")), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		files map[string]string
		link  [2]string // a symlink to commit: name, target
		want  []string
	}{
		{"exec plugin", map[string]string{
			"app/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [fn.yaml]\n",
			"app/cm.yaml":            configMap("p", "1"),
			"app/fn.yaml":            "apiVersion: example.com/v1\nkind: Mutator\nmetadata:\n  name: m\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: ./run.sh\n",
			"app/run.sh":             "#!/bin/sh\ntouch " + marker + "\ncat\n",
		}, [2]string{}, []string{"app/fn.yaml", "plugin"}},
		{"remote base", map[string]string{
			"app/kustomization.yaml": "resources:\n- https://example.invalid/evil.yaml\n",
		}, [2]string{}, []string{"app/kustomization.yaml", "remote bases are disabled"}},
		{"load from outside the kustomization root", map[string]string{
			"app/kustomization.yaml": "resources: [../outside.yaml]\n",
			"outside.yaml":           configMap("outside", "1"),
		}, [2]string{}, []string{"kustomize build app", "outside.yaml", "is not in or below"}},
		{"load from outside the checkout", map[string]string{
			"app/kustomization.yaml": "resources: [../../../../../../.." + outside + "]\n",
		}, [2]string{}, []string{"kustomize build app", "doesn't exist"}},
		{"symlink out of the repository", map[string]string{
			"app/kustomization.yaml": "resources: [secret.yaml]\n",
		}, [2]string{"app/secret.yaml", outside}, []string{"app/secret.yaml is a symlink to", "leaves the repository", "refused"}},
		{"huge file", map[string]string{
			"app/kustomization.yaml": "resources: [big.yaml]\n",
			"app/big.yaml":           configMap("big", strings.Repeat("x", 9<<20)),
		}, [2]string{}, []string{"app/big.yaml is", "bytes, over the limit of 8388608 bytes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repo := gittest.NewRepo(t)
			repo.Write(tc.files)
			if tc.link[0] != "" {
				if err := os.Symlink(tc.link[1], filepath.Join(repo.Dir, tc.link[0])); err != nil {
					t.Fatal(err)
				}
			}
			repo.Commit("attack", nil)
			c, err := newFetcher(t, source.Auth{}).Fetch(context.Background(), repo.Dir, "main")
			if err != nil {
				t.Fatal(err)
			}
			rev, err := c.Render(context.Background(), "app", source.UntrustedRenderOptions())
			if err == nil {
				t.Fatalf("rendered %d objects, want a refusal", len(rev.Objects))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "stolen") {
				t.Errorf("the error leaks a file from outside the checkout: %v", err)
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the exec plugin ran")
	}
}

package source_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	c := commitAndFetch(t, map[string]string{
		"invalid/ok.yaml": configMap("fine", "1"),
		"invalid/bad.yaml": configMap("first", "1") + "---\n" +
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   broken: indent\n",
		"nokind/a.yaml":                configMap("a", "1") + "---\n# comment\napiVersion: v1\nmetadata:\n  name: b\n",
		"noapiversion/a.yaml":          "kind: ConfigMap\nmetadata:\n  name: b\n",
		"noname/a.yaml":                "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
		"notmap/a.yaml":                "- just\n- a list\n",
		"dup/a.yaml":                   configMap("same", "1"),
		"dup/b/c.yaml":                 "# leading comment\n---\n" + configMap("same", "2"),
		"kdup/kustomization.yaml":      "resources: [a.yaml, b.yaml]\n",
		"kdup/a.yaml":                  configMap("same", "1"),
		"kdup/b.yaml":                  configMap("same", "2"),
		"kmissing/kustomization.yaml":  "resources:\n- present.yaml\n- missing.yaml\n",
		"kmissing/present.yaml":        configMap("p", "1"),
		"kremote/kustomization.yaml":   "resources:\n- cm.yaml\n- github.com/stefanprodan/podinfo//kustomize?ref=6.0.0\n",
		"kremote/cm.yaml":              configMap("p", "1"),
		"khttps/kustomization.yaml":    "resources:\n- https://raw.githubusercontent.com/x/y/main/cm.yaml\n",
		"kdeep/kustomization.yaml":     "resources: [../kdeepbase]\n",
		"kdeepbase/kustomization.yaml": "components:\n- git@github.com:org/repo.git//component\n",
		"kexec/kustomization.yaml":     "resources: [cm.yaml]\ntransformers: [fn.yaml]\n",
		"kexec/cm.yaml":                configMap("p", "1"),
		"kexec/fn.yaml": `apiVersion: example.com/v1
kind: Mutator
metadata:
  name: m
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./mutate.sh
`,
		"kexec/mutate.sh":            "#!/bin/sh\ntouch /tmp/gantry-exec-plugin-ran\ncat\n",
		"kescape/kustomization.yaml": "resources: [../outside.yaml]\n",
		"outside.yaml":               configMap("outside", "1"),
	})
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"invalid YAML names file and line", "invalid", []string{"invalid/bad.yaml", "line 13", "invalid YAML"}},
		{"missing path", "nope", []string{`path "nope" does not exist`, "--path"}},
		{"path leaving the repository", "../elsewhere", []string{"stay inside"}},
		{"document without kind", "nokind", []string{"nokind/a.yaml:10", "missing kind"}},
		{"document without apiVersion", "noapiversion", []string{"noapiversion/a.yaml:1", "missing apiVersion"}},
		{"document without name", "noname", []string{"noname/a.yaml:1", "metadata.name"}},
		{"document not a mapping", "notmap", []string{"notmap/a.yaml:1", "not a Kubernetes object"}},
		{"same object twice in a directory", "dup", []string{"dup/b/c.yaml:3", "ConfigMap/default/same", "defined twice", "first at dup/a.yaml:1"}},
		{"same object twice in a kustomization", "kdup", []string{"kdup", "same"}},
		{"kustomization referencing a missing file", "kmissing", []string{"kmissing", "missing.yaml"}},
		{"remote base", "kremote", []string{"kremote/kustomization.yaml", "resources[1]", "github.com/stefanprodan/podinfo", "remote bases are disabled", "--allow-remote-bases"}},
		{"remote file", "khttps", []string{"khttps/kustomization.yaml", "https://raw.githubusercontent.com", "remote bases are disabled"}},
		{"remote component of a base", "kdeep", []string{"kdeepbase/kustomization.yaml", "components[0]", "git@github.com"}},
		{"exec plugin", "kexec", []string{"kexec/kustomization.yaml", "transformers[0]", "kexec/fn.yaml:1", "Mutator", "plugins disabled"}},
		{"file outside the kustomization root", "kescape", []string{"kescape", "outside.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Render(context.Background(), tc.path, source.DefaultRenderOptions())
			if err == nil {
				t.Fatal("Render succeeded, want an error")
			}
			t.Logf("error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := os.Stat("/tmp/gantry-exec-plugin-ran"); err == nil {
		t.Error("the exec plugin ran with plugins disabled")
	}
}

// TestRenderRemoteBasesWhenAllowed builds a kustomization whose base lives in
// another Git repository (file://, so on loopback with no network).
func TestRenderRemoteBasesWhenAllowed(t *testing.T) {
	t.Parallel()
	base := gittest.NewRepo(t)
	base.Commit("base", map[string]string{
		"base/kustomization.yaml": "resources: [cm.yaml]\n",
		"base/cm.yaml":            configMap("remote", "1"),
	})
	remote := fmt.Sprintf("file://%s//base?ref=main", base.Dir)
	c := commitAndFetch(t, map[string]string{"app/kustomization.yaml": "resources:\n- " + remote + "\n"})

	if _, err := c.Render(context.Background(), "app", source.DefaultRenderOptions()); err == nil || !strings.Contains(err.Error(), "remote bases are disabled") {
		t.Fatalf("default options: err = %v, want remote bases disabled", err)
	}
	rev, err := c.Render(context.Background(), "app", source.RenderOptions{AllowRemoteBases: true})
	if err != nil {
		t.Fatalf("AllowRemoteBases: %v", err)
	}
	if len(rev.Objects) != 1 || rev.Objects[0].GetName() != "remote" {
		t.Errorf("got %v, want the remote base's ConfigMap", rev.Objects)
	}
}

// TestRenderRemoteBasesCleansUpOnlyItsCheckout renders at the repository root
// and at a nested path from a temporary checkout, and checks that exactly that
// checkout is removed afterwards: the temp directory itself survives, empty.
func TestRenderRemoteBasesCleansUpOnlyItsCheckout(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	keep := filepath.Join(tmp, "unrelated")
	if err := os.WriteFile(keep, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := commitAndFetch(t, map[string]string{
		"kustomization.yaml":     "resources: [cm.yaml]\n",
		"cm.yaml":                configMap("root", "1"),
		"a/b/kustomization.yaml": "resources: [cm.yaml]\n",
		"a/b/cm.yaml":            configMap("nested", "1"),
	})
	for _, p := range []string{".", "a/b"} {
		if _, err := c.Render(context.Background(), p, source.RenderOptions{AllowRemoteBases: true}); err != nil {
			t.Fatalf("Render(%q): %v", p, err)
		}
		entries, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatalf("after Render(%q) the temp directory is gone: %v", p, err)
		}
		if len(entries) != 1 || entries[0].Name() != "unrelated" {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("after Render(%q) the temp directory holds %v, want only the unrelated file", p, names)
		}
	}
}

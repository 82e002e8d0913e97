package source_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

// bomb is a 400-byte YAML document whose aliases expand to 9^9 (387
// million) scalars: "billion laughs".
func bomb(indent string) string {
	var b strings.Builder
	b.WriteString(indent + "a: &a [x,x,x,x,x,x,x,x,x]\n")
	for i, name := range "bcdefghi" {
		prev := string("abcdefgh"[i])
		b.WriteString(indent + string(name) + ": &" + string(name) + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n")
	}
	return b.String()
}

// bombCases put the bomb into each place kustomize reads YAML from.
func bombCases() map[string]map[string]string {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\ndata:\n" + bomb("  ")
	patch := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: base}\ndata:\n" + bomb("  ")
	gen := "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: g\n  annotations:\n" + bomb("    ")
	inline := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: base}\ndata:\n" + bomb("  ")
	return map[string]map[string]string{
		"resource": {
			"app/kustomization.yaml": "resources: [boom.yaml]\n",
			"app/boom.yaml":          cm,
		},
		"patch file": {
			"app/kustomization.yaml": "resources: [base.yaml]\npatches:\n- path: patch.yaml\n",
			"app/base.yaml":          configMap("base", "1"),
			"app/patch.yaml":         patch,
		},
		"generator config": {
			"app/kustomization.yaml": "generators: [gen.yaml]\n",
			"app/gen.yaml":           gen,
		},
		"kustomization file": {
			"app/kustomization.yaml": "resources: [base.yaml]\nx:\n" + bomb("  "),
			"app/base.yaml":          configMap("base", "1"),
		},
		"inline patch": {
			"app/kustomization.yaml": "resources: [base.yaml]\npatches:\n- patch: |\n" + indentLines(inline, "    "),
			"app/base.yaml":          configMap("base", "1"),
		},
	}
}

func indentLines(s, indent string) string {
	return indent + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+indent) + "\n"
}

// TestRenderRefusesYAMLBombs renders each bomb from a commit: the render is
// refused quickly, naming the file, instead of expanding gigabytes.
func TestRenderRefusesYAMLBombs(t *testing.T) {
	if n := len(bomb("")); n > 400 {
		t.Fatalf("the bomb is %d bytes, want at most 400", n)
	}
	for name, files := range bombCases() {
		t.Run(name, func(t *testing.T) {
			c := commitAndFetch(t, files)
			start := time.Now()
			rev, err := c.Render(context.Background(), "app", source.DefaultRenderOptions())
			if err == nil {
				t.Fatalf("rendered %d objects, want a refusal", len(rev.Objects))
			}
			t.Logf("error after %s: %v", time.Since(start).Round(time.Millisecond), err)
			if !strings.Contains(err.Error(), "app/") || !strings.Contains(err.Error(), "alias") {
				t.Errorf("error %q does not name the file and the aliases", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the refusal took %s", d)
			}
		})
	}
}

// TestRenderInProcessRefusesYAMLBombs renders the bombs with Render, in this
// process, from a file system of the caller's: the bound is in the reads,
// not only in the sandbox around them.
func TestRenderInProcessRefusesYAMLBombs(t *testing.T) {
	for name, files := range bombCases() {
		t.Run(name, func(t *testing.T) {
			fsys := filesys.MakeFsInMemory()
			for p, content := range files {
				if err := fsys.WriteFile("/"+p, []byte(content)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := source.Render(fsys, "/app", source.DefaultRenderOptions())
			if err == nil || !strings.Contains(err.Error(), "alias") {
				t.Fatalf("err = %v, want a refusal naming the aliases", err)
			}
		})
	}
}

// TestRenderRemoteBaseBomb renders, with remote bases allowed, a base from
// another repository holding the bomb: the reads of the clone are bounded
// too.
func TestRenderRemoteBaseBomb(t *testing.T) {
	base := gittest.NewRepo(t)
	base.Commit("base", map[string]string{
		"base/kustomization.yaml": "resources: [boom.yaml]\n",
		"base/boom.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\ndata:\n" + bomb("  "),
	})
	c := commitAndFetch(t, map[string]string{"app/kustomization.yaml": "resources:\n- file://" + base.Dir + "//base?ref=main\n"})
	opts := source.DefaultRenderOptions()
	opts.AllowRemoteBases = true
	_, err := c.Render(context.Background(), "app", opts)
	if err == nil || !strings.Contains(err.Error(), "boom.yaml") || !strings.Contains(err.Error(), "alias") {
		t.Fatalf("err = %v, want a refusal naming the file and the aliases", err)
	}
}

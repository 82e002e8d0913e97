package source_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/source"
)

// bomb is objtest.Bomb: "billion laughs" in 400 bytes.
func bomb(indent string) string { return objtest.Bomb(indent) }

// hiddenBombs are the bomb written so that no blank or line start comes
// before its aliases, or with no '&' or '*' in the file's bytes at all.
func hiddenBombs(indent string) map[string]string {
	return map[string]string{
		"quoted keys":     strings.ReplaceAll(bomb(indent), "*", `"k":*`),
		"line separators": strings.ReplaceAll(bomb(indent), "*", "\u2028*"),
	}
}

// escapedYAML writes s as a double-quoted YAML string with & and *
// escaped: the file's bytes hold neither.
func escapedYAML(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "&", `\x26`, "*", `\x2A`).Replace(s) + `"`
}

// bombCases put the bomb into each place kustomize reads YAML from.
func bombCases() map[string]map[string]string {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\ndata:\n" + bomb("  ")
	hidden := hiddenBombs("  ")
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
		"resource, aliases after quoted keys": {
			"app/kustomization.yaml": "resources: [boom.yaml]\n",
			"app/boom.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\ndata:\n" + hidden["quoted keys"],
		},
		"resource, aliases after line separators": {
			"app/kustomization.yaml": "resources: [boom.yaml]\n",
			"app/boom.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\ndata:\n" + hidden["line separators"],
		},
		"inline patch, escaped": {
			"app/kustomization.yaml": "resources: [base.yaml]\npatches:\n- patch: " + escapedYAML(inline) + "\n",
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

// longAliases is a ConfigMap whose data holds one scalar of n bytes,
// anchored, and times aliases of it: a few nodes, n×times bytes once
// expanded.
func longAliases(n, times int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: long}\ndata:\n  a: &a \"" + strings.Repeat("x", n) + "\"\n")
	for i := range times {
		fmt.Fprintf(&b, "  b%d: *a\n", i)
	}
	return b.String()
}

// TestRenderBoundsAliasedBytes renders aliases of long scalars, as plain
// YAML and through kustomize: what they add is weighed in bytes (16 MiB at
// most per file, and counted against the render's budget), not in nodes,
// so 300 aliases of 1 MiB (1.67 GB allocated before) are refused at once
// with a short error, and 10 render, counted as read.
func TestRenderBoundsAliasedBytes(t *testing.T) {
	var dupKeys strings.Builder
	dupKeys.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  ? &k " + strings.Repeat("k", 1<<20) + "\n  : x\n")
	for range 200 {
		dupKeys.WriteString("  ? *k\n  : y\n")
	}
	c := commitAndFetch(t, map[string]string{
		"plain/cm.yaml":           longAliases(1<<20, 300),
		"keys/cm.yaml":            dupKeys.String(),
		"kust/kustomization.yaml": "resources: [cm.yaml]\n",
		"kust/cm.yaml":            longAliases(1<<20, 300),
		"fits/cm.yaml":            longAliases(1<<20, 10),
	})
	for _, p := range []string{"plain", "keys", "kust"} {
		var err error
		heap := allocated(func() { _, err = c.Render(context.Background(), p, source.DefaultRenderOptions()) })
		t.Logf("%s: allocated %d MB: %.200v", p, heap>>20, err)
		if err == nil || !strings.Contains(err.Error(), p+"/cm.yaml:") || !strings.Contains(err.Error(), "more than 16777216 bytes") {
			t.Errorf("%s: err = %.300v, want a refusal naming the file and the bound", p, err)
		}
		if heap > 64<<20 {
			t.Errorf("%s: the refusal allocated %d MB", p, heap>>20)
		}
	}
	rev, err := c.Render(context.Background(), "fits", source.DefaultRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	if rev.BytesRead < 11<<20 {
		t.Errorf("BytesRead = %d, want the file and the 10 MiB its aliases add", rev.BytesRead)
	}
	opts := source.DefaultRenderOptions()
	opts.MaxRenderBytes = 8 << 20
	if _, err := c.Render(context.Background(), "fits", opts); err == nil || !strings.Contains(err.Error(), "fits/cm.yaml (its YAML aliases expanded)") {
		t.Errorf("with an 8 MiB budget: err = %.300v, want the expansion counted against it", err)
	}
}

// TestRenderCutsLongErrors renders a file whose parse error quotes a key
// of 3 MiB twice: the error a render returns is cut to 4 KiB, saying so.
func TestRenderCutsLongErrors(t *testing.T) {
	key := strings.Repeat("k", 3<<20)
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  ? " + key + "\n  : x\n  ? " + key + "\n  : y\n"
	c := commitAndFetch(t, map[string]string{
		"plain/cm.yaml":           cm,
		"kust/kustomization.yaml": "resources: [cm.yaml]\n",
		"kust/cm.yaml":            cm,
	})
	for _, p := range []string{"plain", "kust"} {
		_, err := c.Render(context.Background(), p, source.UntrustedRenderOptions())
		if err == nil {
			t.Fatalf("%s: rendered a key twice", p)
		}
		t.Logf("%s: %d bytes: %.200s", p, len(err.Error()), err)
		if len(err.Error()) > 4096 || !strings.Contains(err.Error(), "more bytes of this error cut") || !strings.HasPrefix(err.Error(), "render "+p) {
			t.Errorf("%s: error of %d bytes, want it cut to 4096 bytes with a note", p, len(err.Error()))
		}
	}
}

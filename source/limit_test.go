package source_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

// TestRenderBoundsKustomizationFanOut renders kustomizations that reach
// themselves, or one directory, through many paths: six links to "." (each
// path a new root to kustomize: 6^8 of them within the link-hop bound), and
// eight levels of six names for one Git tree (6^8 roots, no link at all).
// Each is refused after a bounded number of kustomization files, naming
// the bound, instead of running until the timeout.
func TestRenderBoundsKustomizationFanOut(t *testing.T) {
	names := []string{"l0", "l1", "l2", "l3", "l4", "l5"}
	kustomization := "resources: [" + strings.Join(names, ", ") + "]\n"
	for _, tc := range []struct {
		name string
		tree func(repo *gittest.Repo) string // returns app/'s tree
	}{
		{"links to the kustomization's own directory", func(repo *gittest.Repo) string {
			link := gitInput(t, repo.Dir, []byte("."), "hash-object", "-w", "--stdin")
			k := gitInput(t, repo.Dir, []byte(kustomization), "hash-object", "-w", "--stdin")
			var b bytes.Buffer
			fmt.Fprintf(&b, "100644 blob %s\tkustomization.yaml\n", k)
			for _, n := range names {
				fmt.Fprintf(&b, "120000 blob %s\t%s\n", link, n)
			}
			return gitInput(t, repo.Dir, b.Bytes(), "mktree")
		}},
		{"one tree under many names", func(repo *gittest.Repo) string {
			leaf := gitInput(t, repo.Dir, []byte("resources: []\n"), "hash-object", "-w", "--stdin")
			k := gitInput(t, repo.Dir, []byte(kustomization), "hash-object", "-w", "--stdin")
			cur := gitInput(t, repo.Dir, []byte("100644 blob "+leaf+"\tkustomization.yaml\n"), "mktree")
			for range 8 {
				var b bytes.Buffer
				fmt.Fprintf(&b, "100644 blob %s\tkustomization.yaml\n", k)
				for _, n := range names {
					fmt.Fprintf(&b, "040000 tree %s\t%s\n", cur, n)
				}
				cur = gitInput(t, repo.Dir, b.Bytes(), "mktree")
			}
			return cur
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := gittest.NewRepo(t)
			app := tc.tree(repo)
			c := commitTree(t, repo, gitInput(t, repo.Dir, []byte("040000 tree "+app+"\tapp\n"), "mktree"))
			opts := source.DefaultRenderOptions() // links that loop are left out, not refused
			opts.Timeout = 20 * time.Second
			start := time.Now()
			_, err := c.Render(context.Background(), "app", opts)
			t.Logf("after %s: %.300v", time.Since(start).Round(time.Millisecond), err)
			if err == nil || !strings.Contains(err.Error(), "read kustomization files more than 2000 times") {
				t.Fatalf("err = %.300v, want the bound on kustomizations named", err)
			}
		})
	}
}

// TestRenderRemoteBaseChecksSizeFirst renders, with remote bases allowed,
// a base holding a file over MaxFileBytes: it is refused from its size on
// disk, before its content is read into memory.
func TestRenderRemoteBaseChecksSizeFirst(t *testing.T) {
	base := gittest.NewRepo(t)
	base.Commit("base", map[string]string{
		"base/kustomization.yaml": "resources: [big.yaml]\n",
		"base/big.yaml":           "# " + strings.Repeat("0", 40<<20) + "\n",
	})
	c := commitAndFetch(t, map[string]string{"app/kustomization.yaml": "resources:\n- file://" + base.Dir + "//base?ref=main\n"})
	opts := source.DefaultRenderOptions()
	opts.AllowRemoteBases = true
	var err error
	heap := allocated(func() { _, err = c.Render(context.Background(), "app", opts) })
	t.Logf("allocated %d MB: %.300v", heap>>20, err)
	if err == nil || !strings.Contains(err.Error(), "over the limit of 33554432 bytes for a rendered file") {
		t.Fatalf("err = %.300v, want the file refused for its size", err)
	}
	if heap > 16<<20 {
		t.Errorf("allocated %d MB: the 40 MB file was read before its size was checked", heap>>20)
	}
}

// TestRenderBoundsObjects renders more objects than a render's budget
// allows (one per 4 KiB of MaxRenderBytes), as plain YAML and through
// kustomize: each is refused naming the bound and how to raise it; as many
// as the budget allows render.
func TestRenderBoundsObjects(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d}\n", i)
		}
		return b.String()
	}
	c := commitAndFetch(t, map[string]string{
		"plain/many.yaml":         many(1500),
		"kust/kustomization.yaml": "resources: [many.yaml]\n",
		"kust/many.yaml":          many(1500),
		"fits/many.yaml":          many(1000),
	})
	opts := source.UntrustedRenderOptions()
	opts.MaxRenderBytes = 4 << 20 // 1,024 objects
	for _, p := range []string{"plain", "kust"} {
		_, err := c.Render(context.Background(), p, opts)
		if err == nil || !strings.Contains(err.Error(), "more than 1024 objects") || !strings.Contains(err.Error(), "source.maxRenderBytes") {
			t.Errorf("%s: err = %.300v, want a refusal naming the bound", p, err)
		}
	}
	if _, err := c.Render(context.Background(), "plain", opts); err == nil || !strings.Contains(err.Error(), "plain/many.yaml:") {
		t.Errorf("plain: err = %.300v, want the file named", err)
	}
	if rev, err := c.Render(context.Background(), "fits", opts); err != nil || len(rev.Objects) != 1000 {
		t.Errorf("1,000 objects: %v", err)
	}
}

// TestRenderRemoteBasesNamesRepositoryPaths renders, with remote bases
// allowed (from a temporary checkout on disk), a kustomization that fails
// and one over the per-file cap: the errors name the repository's paths,
// not the temporary checkout's.
func TestRenderRemoteBasesNamesRepositoryPaths(t *testing.T) {
	c := commitAndFetch(t, map[string]string{
		"app/kustomization.yaml": "resources: [missing.yaml]\n",
		"big/kustomization.yaml": "resources: [big.yaml]\n",
		"big/big.yaml":           configMap("big", strings.Repeat("x", 2<<20)),
	})
	opts := source.DefaultRenderOptions()
	opts.AllowRemoteBases = true
	opts.MaxFileBytes = 1 << 20 // big.yaml is left out of the checkout
	for p, want := range map[string]string{"app": "kustomize build app: ", "big": "big/big.yaml"} {
		_, err := c.Render(context.Background(), p, opts)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "gantry-render-") {
			t.Errorf("%s: err = %v, want repository paths (%q)", p, err, want)
		}
	}
}

package source_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/gantryops/gantry/source"
)

// TestArtifactStore stores files as a tree (names chosen so that Git's
// order, a directory sorting as "name/", differs from plain sorting) and
// renders them as a commit; a path given twice, or as a file and a
// directory, is refused.
func TestArtifactStore(t *testing.T) {
	store, err := source.OpenArtifactStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	digest := strings.Repeat("c", 64)
	b := store.Builder(0)
	cm := func(name string) []byte {
		return []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\n")
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{"a-b.yaml", cm("dash")}, {"a/x.yaml", cm("in-dir")}, {"a.yaml", cm("dot")}, {"a0.yaml", cm("zero")}, {"deep/er/y.yaml", cm("deep")}} {
		if err := b.Add(f.path, f.data); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"a.yaml", "a", "a/x.yaml/z", "../x", "/x", "a//x", ""} {
		if err := b.Add(bad, []byte("x")); err == nil {
			t.Errorf("Add(%q) was accepted", bad)
		}
	}
	if err := b.Finish(digest); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := store.Commit(strings.Repeat("d", 64), strings.Repeat("d", 64), "oci://r/x", "v1"); ok || err != nil {
		t.Fatalf("an unknown digest: %v %v", ok, err)
	}
	c, ok, err := store.Commit(digest, digest, "oci://r/x", "v1")
	if err != nil || !ok {
		t.Fatalf("stored digest: %v %v", ok, err)
	}
	for path, want := range map[string]string{".": "dash,deep,dot,in-dir,zero", "a": "in-dir", "deep": "deep", "a.yaml": "dot"} {
		rev, err := c.Render(context.Background(), path, source.DefaultRenderOptions())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var got []string
		for _, o := range rev.Objects {
			got = append(got, o.GetName())
		}
		sort.Strings(got)
		if strings.Join(got, ",") != want || rev.Commit != digest {
			t.Errorf("%s rendered %v at %s, want %s", path, got, rev.Commit, want)
		}
	}
}

// TestArtifactStoreBoundsNodes: a deep path makes a directory per part,
// each counted against the builder's bound with the files.
func TestArtifactStoreBoundsNodes(t *testing.T) {
	store, err := source.OpenArtifactStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := store.Builder(10)
	if err := b.Add("a/b/c/d/e/f/g/h/i/j/k.yaml", []byte("x")); err == nil || !strings.Contains(err.Error(), "more than 10 files and directories") {
		t.Fatalf("a path of 11 nodes under a bound of 10: %v", err)
	}
}

package source_test

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/source"
)

// commitAndFetch commits files to a new repository and fetches main.
func commitAndFetch(t *testing.T, files map[string]string) *source.Commit {
	t.Helper()
	repo := gittest.NewRepo(t)
	repo.Commit("test", files)
	c, err := newFetcher(t, source.Auth{}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func corpusDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../testdata/corpus")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("corpus missing: %v", err)
	}
	return dir
}

// TestCorpusCopyIsUnedited checks testdata/corpus against the shared corpus it
// was copied from, when the shared corpus is there to compare with.
func TestCorpusCopyIsUnedited(t *testing.T) {
	t.Parallel()
	shared, _ := filepath.Abs("../../shared/corpus")
	if _, err := os.Stat(shared); err != nil {
		t.Logf("no shared corpus at %s to compare with (a clean clone elsewhere)", shared)
		return
	}
	out, err := exec.Command("diff", "-r", shared, corpusDir(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("testdata/corpus differs from %s; copy it again, never edit it:\n%s", shared, out)
	}
}

var (
	topKind  = regexp.MustCompile(`(?m)^kind: (\S+)\s*$`)
	itemKind = regexp.MustCompile(`(?m)^  kind: (\S+)\s*$`)
	docSep   = regexp.MustCompile(`(?m)^---\s*$`)
)

// countKinds counts objects per kind in a YAML stream by scanning lines, not
// parsing: a top-level "kind:" is an object, and the items of a *List kind are
// the objects at two spaces of indent.
func countKinds(stream string) map[string]int {
	counts := map[string]int{}
	for _, doc := range docSep.Split(stream, -1) {
		m := topKind.FindStringSubmatch(doc)
		if m == nil {
			continue
		}
		if !strings.HasSuffix(m[1], "List") {
			counts[m[1]]++
			continue
		}
		for _, item := range itemKind.FindAllStringSubmatch(doc, -1) {
			counts[item[1]]++
		}
	}
	return counts
}

// countFiles counts objects per kind in every manifest file under dir.
func countFiles(t *testing.T, dir string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		for k, n := range countKinds(string(data)) {
			counts[k] += n
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// kubectlKustomize counts objects per kind in kubectl's own kustomize build.
func kubectlKustomize(t *testing.T, dir string) map[string]int {
	t.Helper()
	out, err := exec.Command("kubectl", "kustomize", dir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s (kubectl is the independent reference here; install it): %v", dir, err)
	}
	return countKinds(string(out))
}

func kindsOf(objs []*unstructured.Unstructured) map[string]int {
	counts := map[string]int{}
	for _, u := range objs {
		counts[u.GetKind()]++
	}
	return counts
}

func TestRenderCorpus(t *testing.T) {
	t.Parallel()
	corpus := corpusDir(t)
	repo := gittest.NewRepo(t)
	repo.CopyDir(corpus, ".")
	repo.Commit("corpus", nil)
	commit, err := newFetcher(t, source.Auth{}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		t.Fatal(err)
	}

	overlays, err := os.ReadDir(filepath.Join(corpus, "podinfo/deploy/overlays"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func() map[string]int{}
	for _, p := range []string{"podinfo/kustomize"} {
		cases[p] = func() map[string]int { return kubectlKustomize(t, filepath.Join(corpus, p)) }
	}
	for _, o := range overlays {
		p := "podinfo/deploy/overlays/" + o.Name()
		cases[p] = func() map[string]int { return kubectlKustomize(t, filepath.Join(corpus, p)) }
	}
	for _, p := range []string{"kube-prometheus/manifests/setup", "kube-prometheus/manifests"} {
		cases[p] = func() map[string]int { return countFiles(t, filepath.Join(corpus, p)) }
	}
	if len(overlays) < 3 {
		t.Fatalf("found %d podinfo overlays, want dev, staging and production", len(overlays))
	}

	for _, p := range slices.Sorted(maps.Keys(cases)) {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
			rev, err := commit.Render(context.Background(), p, source.DefaultRenderOptions())
			if err != nil {
				t.Fatalf("Render(%s): %v", p, err)
			}
			want := cases[p]()
			if diff := cmp.Diff(want, kindsOf(rev.Objects)); diff != "" {
				t.Errorf("objects per kind (-independent count +rendered)\n%s", diff)
			}
			total := 0
			for _, n := range want {
				total += n
			}
			t.Logf("%s: %d objects", p, total)
			if total == 0 {
				t.Fatal("the independent count found no objects: the fixture is wrong")
			}
			for i := 1; i < len(rev.Objects); i++ {
				if object.Compare(object.RefOf(rev.Objects[i-1]), object.RefOf(rev.Objects[i])) >= 0 {
					t.Fatalf("objects not sorted and unique at %d: %s, %s", i, object.RefOf(rev.Objects[i-1]), object.RefOf(rev.Objects[i]))
				}
			}
			again, err := commit.Render(context.Background(), p, source.DefaultRenderOptions())
			if err != nil {
				t.Fatal(err)
			}
			if d1, d2 := digestOf(t, rev), digestOf(t, again); d1 != d2 {
				t.Errorf("digest not stable: %s then %s", d1.Keyed(), d2.Keyed())
			}
		})
	}
}

func TestRenderFlattensLists(t *testing.T) {
	t.Parallel()
	c := commitAndFetch(t, map[string]string{
		"m/list.yaml": `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a, namespace: x}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: b, namespace: x}
---
apiVersion: v1
kind: ConfigMapList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c, namespace: x}
`,
		"m/nested/deeper/ns.json": `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}`,
		"m/README.md":             "not a manifest",
		"m/.hidden/skip.yaml":     "this: is not read",
	})
	rev, err := c.Render(context.Background(), "m", source.DefaultRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range rev.Objects {
		got = append(got, object.RefOf(u).String())
	}
	want := []string{"ConfigMap/x/a", "ConfigMap/x/b", "ConfigMap/x/c", "Namespace/x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestRenderDigest(t *testing.T) {
	t.Parallel()
	a := commitAndFetch(t, map[string]string{"m/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: x\ndata:\n  k: v\n  j: w\n"})
	// Same object: keys in another order, flow style, a comment, another file name.
	b := commitAndFetch(t, map[string]string{"m/other.yml": "# same\nkind: ConfigMap\napiVersion: v1\ndata: {j: w, k: v}\nmetadata: {namespace: x, name: a}\n"})
	c := commitAndFetch(t, map[string]string{"m/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: x\ndata:\n  k: v\n  j: changed\n"})
	render := func(c *source.Commit) *source.Revision {
		rev, err := c.Render(context.Background(), "m", source.DefaultRenderOptions())
		if err != nil {
			t.Fatal(err)
		}
		if rev.Commit != c.SHA {
			t.Errorf("Revision.Commit = %s, want %s", rev.Commit, c.SHA)
		}
		return rev
	}
	ra, rb, rc := digestOf(t, render(a)), digestOf(t, render(b)), digestOf(t, render(c))
	if ra != rb {
		t.Errorf("equal objects, different digests: %s vs %s", ra.Keyed(), rb.Keyed())
	}
	if ra == rc {
		t.Errorf("a changed value kept the digest %s", ra.Keyed())
	}
}

// digestOf is rev's digest under a fixed test key.
func digestOf(t *testing.T, rev *source.Revision) object.Hash {
	t.Helper()
	d, err := rev.Digest(object.HashKey("test key"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRenderSymlinksStayInsideRepository(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t)
	repo.Write(map[string]string{
		"shared/base/kustomization.yaml": "resources: [cm.yaml]\n",
		"shared/base/cm.yaml":            configMap("from-link", "1"),
		"app/kustomization.yaml":         "resources: [base]\n",
		"leak/kustomization.yaml":        "resources: [passwd]\n",
	})
	if err := os.Symlink("../shared/base", filepath.Join(repo.Dir, "app/base")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(repo.Dir, "leak/passwd")); err != nil {
		t.Fatal(err)
	}
	repo.Commit("links", nil)
	c, err := newFetcher(t, source.Auth{}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := c.Render(context.Background(), "app", source.DefaultRenderOptions())
	if err != nil {
		t.Fatalf("render through an in-repository directory symlink: %v", err)
	}
	if len(rev.Objects) != 1 || rev.Objects[0].GetName() != "from-link" {
		t.Errorf("got %d objects, want ConfigMap from-link", len(rev.Objects))
	}
	_, err = c.Render(context.Background(), "leak", source.DefaultRenderOptions())
	if err == nil {
		t.Fatal("a symlink to /etc/passwd was rendered; it must not be readable")
	}
	if !strings.Contains(err.Error(), "passwd") {
		t.Errorf("error %q does not name the missing file", err)
	}
}

package source_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

// allocated returns the bytes this process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestRenderReadsOnlyWhatItReaches commits 40 paths to one 8 MB blob (a few
// kilobytes of Git) beside the paths rendered: a render reads only the
// files and trees its path reaches, counts every read (the same blob read
// through two paths counts twice), and stops at its total budget with an
// error naming the file, the limit and how to raise it.
func TestRenderReadsOnlyWhatItReaches(t *testing.T) {
	const blob = 8 << 20
	big := configMap("big", strings.Repeat("x", blob))
	small := configMap("small", "1")
	repo := gittest.NewRepo(t)
	repo.Write(map[string]string{
		"big.yaml":               big,
		"plain/cm.yaml":          small,
		"app/kustomization.yaml": "resources: [f01.yaml]\nconfigMapGenerator:\n- name: copies\n  files: [f02.yaml, f03.yaml]\n",
		"all/kustomization.yaml": "configMapGenerator:\n- name: copies\n  files: [" + strings.Join(bigNames(40), ", ") + "]\n",
	})
	// 80 more paths to the same blob, written once: a few KB of Git.
	repo.Git("add", "-A")
	hash := strings.TrimSpace(repo.Git("hash-object", "-w", "big.yaml"))
	for _, dir := range []string{"app", "all"} {
		for _, name := range bigNames(40) {
			repo.Git("update-index", "--add", "--cacheinfo", "100644,"+hash+","+dir+"/"+name)
		}
	}
	repo.Git("commit", "-q", "-m", "40 paths to one blob, twice") // not Commit: its add -A drops paths without files
	ctx := context.Background()
	c, err := newFetcher(t, source.Auth{}).Fetch(ctx, repo.Dir, "main")
	if err != nil {
		t.Fatal(err)
	}

	var rev *source.Revision
	heap := allocated(func() { rev, err = c.Render(ctx, "plain", source.DefaultRenderOptions()) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plain path: read %d bytes, allocated %d bytes", rev.BytesRead, heap)
	trees := gitSize(t, repo, "HEAD^{tree}") + gitSize(t, repo, "HEAD:plain")
	if rev.BytesRead != int64(len(small))+trees {
		t.Errorf("rendering plain/ read %d bytes, want only plain/cm.yaml's %d and the trees of the root and plain/ (%d)", rev.BytesRead, len(small), trees)
	}
	if heap > 16<<20 {
		t.Errorf("rendering plain/ allocated %d MB: the 8 MB files elsewhere in the commit were read", heap>>20)
	}

	heap = allocated(func() { rev, err = c.Render(ctx, "app", source.DefaultRenderOptions()) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kustomization naming 3 of 40 copies: read %d bytes, allocated %d bytes in this process", rev.BytesRead, heap)
	if rev.BytesRead < 3*blob || rev.BytesRead > 3*blob+64<<10 {
		t.Errorf("read %d bytes, want the 3 referenced copies (%d bytes) and the kustomization", rev.BytesRead, 3*blob)
	}
	if heap > 40*blob {
		t.Errorf("rendering app/ allocated %d MB in this process: more than the 40 copies", heap>>20)
	}

	opts := source.DefaultRenderOptions()
	opts.MaxRenderBytes = 20 << 20
	_, err = c.Render(ctx, "all", opts)
	if err == nil {
		t.Fatal("40 reads of an 8 MB blob fit a 20 MiB budget")
	}
	for _, want := range []string{"all/f03.yaml", "20971520", "maxRenderBytes", "--max-render-bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// gitSize returns the size of a Git object of repo.
func gitSize(t *testing.T, repo *gittest.Repo, obj string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(repo.Git("cat-file", "-s", obj), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func bigNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("f%02d.yaml", i+1)
	}
	return names
}

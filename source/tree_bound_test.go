package source_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

// gitInput runs git in dir with stdin and returns its trimmed output.
func gitInput(t *testing.T, dir string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=gantry test", "GIT_AUTHOR_EMAIL=test@gantry.invalid",
		"GIT_COMMITTER_NAME=gantry test", "GIT_COMMITTER_EMAIL=test@gantry.invalid")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// commitTree makes root the tree of a new commit on main, packs the
// repository as a push would, and fetches it.
func commitTree(t *testing.T, repo *gittest.Repo, root string) *source.Commit {
	t.Helper()
	commit := repo.Git("commit-tree", root, "-m", "hostile tree")
	repo.Git("update-ref", "refs/heads/main", commit)
	repo.Git("gc", "-q")
	c, err := newFetcher(t, source.Auth{}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// chain writes depth nested directories named name above a directory
// holding x.yaml, one tree object each (hashed here, written by one git
// process), and returns the outermost tree.
func chain(t *testing.T, repo *gittest.Repo, depth int, name string) string {
	t.Helper()
	blob := gitInput(t, repo.Dir, []byte(configMap("deep", "1")), "hash-object", "-w", "--stdin")
	tmp := t.TempDir()
	var paths []string
	write := func(content []byte) []byte {
		h := sha1.Sum(append([]byte("tree "+strconv.Itoa(len(content))+"\x00"), content...))
		p := filepath.Join(tmp, strconv.Itoa(len(paths)))
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		return h[:]
	}
	raw, err := hex.DecodeString(blob)
	if err != nil {
		t.Fatal(err)
	}
	cur := write(append([]byte("100644 x.yaml\x00"), raw...))
	for range depth {
		cur = write(append([]byte("40000 "+name+"\x00"), cur...))
	}
	gitInput(t, repo.Dir, []byte(strings.Join(paths, "\n")+"\n"), "hash-object", "-w", "-t", "tree", "--literally", "--stdin-paths")
	return fmt.Sprintf("%x", cur)
}

// TestRenderBoundsTrees commits trees made to cost memory out of
// proportion to their few kilobytes of Git: long names, a root of 300,000
// entries, deep chains of directories. Fetching costs nothing for them
// (the root tree is not decoded), and a render is refused before decoding
// what is over a bound, naming the directory and the bound; the time and
// memory it takes stay small.
func TestRenderBoundsTrees(t *testing.T) {
	for _, tc := range []struct {
		name string
		// tree returns the commit's root tree, given app/'s tree.
		tree func(t *testing.T, repo *gittest.Repo, app string) string
		opts source.RenderOptions
		want []string
	}{
		{"2,000 names of 10 KB in the root", func(t *testing.T, repo *gittest.Repo, app string) string {
			blob := gitInput(t, repo.Dir, []byte("x"), "hash-object", "-w", "--stdin")
			var b bytes.Buffer
			fmt.Fprintf(&b, "040000 tree %s\tapp\n", app)
			for i := range 2000 {
				fmt.Fprintf(&b, "100644 blob %s\tz%s%05d\n", blob, strings.Repeat("n", 10000), i)
			}
			return gitInput(t, repo.Dir, b.Bytes(), "mktree")
		}, source.DefaultRenderOptions(), []string{"repository root", "longer than 255 bytes"}},
		{"300,000 entries in the root", func(t *testing.T, repo *gittest.Repo, app string) string {
			blob := gitInput(t, repo.Dir, []byte("x"), "hash-object", "-w", "--stdin")
			var b bytes.Buffer
			fmt.Fprintf(&b, "040000 tree %s\tapp\n", app)
			for i := range 300000 {
				fmt.Fprintf(&b, "100644 blob %s\tf%07d\n", blob, i)
			}
			return gitInput(t, repo.Dir, b.Bytes(), "mktree")
		}, source.UntrustedRenderOptions(), []string{"repository root", "more than 100000 Git tree entries", "whatever path is rendered"}},
		{"1,000 nested directories of 1,000-byte names", func(t *testing.T, repo *gittest.Repo, _ string) string {
			deep := chain(t, repo, 1000, strings.Repeat("d", 1000))
			app := gitInput(t, repo.Dir, []byte("040000 tree "+deep+"\tdeep\n"), "mktree")
			return gitInput(t, repo.Dir, []byte("040000 tree "+app+"\tapp\n"), "mktree")
		}, source.UntrustedRenderOptions(), []string{"app/deep", "longer than 255 bytes"}},
		{"2,100 nested directories", func(t *testing.T, repo *gittest.Repo, _ string) string {
			deep := chain(t, repo, 2100, "d")
			app := gitInput(t, repo.Dir, []byte("040000 tree "+deep+"\tdeep\n"), "mktree")
			return gitInput(t, repo.Dir, []byte("040000 tree "+app+"\tapp\n"), "mktree")
		}, source.UntrustedRenderOptions(), []string{"app/deep/d/d/d", "longer than 4096 bytes (PATH_MAX)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := gittest.NewRepo(t)
			repo.Commit("base", map[string]string{"app/cm.yaml": configMap("a", "1")})
			root := tc.tree(t, repo, repo.Git("rev-parse", "HEAD:app"))
			var c *source.Commit
			fetched := allocated(func() { c = commitTree(t, repo, root) })
			var err error
			start := time.Now()
			rendered := allocated(func() { _, err = c.Render(context.Background(), "app", tc.opts) })
			took := time.Since(start)
			t.Logf("fetch allocated %d MB; render allocated %d MB in %s: %v", fetched>>20, rendered>>20, took.Round(time.Millisecond), err)
			if err == nil {
				t.Fatal("rendered, want a refusal")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if fetched > 100<<20 { // go-git's fetch of the pack alone: 5 to 66 MB here
				t.Errorf("the fetch allocated %d MB: it decoded the tree", fetched>>20)
			}
			if rendered > 64<<20 || took > 5*time.Second {
				t.Errorf("the render allocated %d MB in %s before refusing", rendered>>20, took)
			}
		})
	}
}

// TestRenderManyLinks renders a directory of 40,000 symlinks to one file:
// each link is looked up by name in an index, not by a scan of the
// directory (quadratic: seconds of CPU per render).
func TestRenderManyLinks(t *testing.T) {
	const n = 40000
	repo := gittest.NewRepo(t)
	link := gitInput(t, repo.Dir, []byte("zz-target.yaml"), "hash-object", "-w", "--stdin")
	target := gitInput(t, repo.Dir, []byte(configMap("target", "1")), "hash-object", "-w", "--stdin")
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "120000 blob %s\tl%06d\n", link, i)
	}
	fmt.Fprintf(&b, "100644 blob %s\tzz-target.yaml\n", target)
	app := gitInput(t, repo.Dir, b.Bytes(), "mktree")
	c := commitTree(t, repo, gitInput(t, repo.Dir, []byte("040000 tree "+app+"\tapp\n"), "mktree"))
	start := time.Now()
	rev, err := c.Render(context.Background(), "app", source.DefaultRenderOptions())
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d links: %s, %d objects", n, took.Round(time.Millisecond), len(rev.Objects))
	if took > 3*time.Second {
		t.Errorf("the render took %s", took)
	}
}

// TestRenderPlainHonoursContext renders plain YAML with a context already
// ended and with a timeout already passed: the render stops instead of
// reading on.
func TestRenderPlainHonoursContext(t *testing.T) {
	c := commitAndFetch(t, map[string]string{"app/cm.yaml": configMap("a", "1")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Render(ctx, "app", source.DefaultRenderOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v, want context canceled", err)
	}
	opts := source.DefaultRenderOptions()
	opts.Timeout = time.Nanosecond
	if _, err := c.Render(context.Background(), "app", opts); err == nil || !strings.Contains(err.Error(), "took longer than 1ns") {
		t.Errorf("timeout: err = %v, want the timeout named", err)
	}
}

// TestRenderCountsTreesAndLinks checks what a render counts against its
// budget: the files it reads, and also the Git trees it decodes and the
// symlink targets it reads.
func TestRenderCountsTreesAndLinks(t *testing.T) {
	cm := configMap("a", "1")
	repo := gittest.NewRepo(t)
	repo.Write(map[string]string{"base/cm.yaml": cm})
	if err := os.MkdirAll(filepath.Join(repo.Dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../base/cm.yaml", filepath.Join(repo.Dir, "app/cm.yaml")); err != nil {
		t.Fatal(err)
	}
	repo.Commit("link", nil)
	c, err := newFetcher(t, source.Auth{}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := c.Render(context.Background(), "app", source.DefaultRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := int64(len(cm)+len("../base/cm.yaml")) + gitSize(t, repo, "HEAD^{tree}") + gitSize(t, repo, "HEAD:app") + gitSize(t, repo, "HEAD:base")
	if rev.BytesRead != want {
		t.Errorf("BytesRead = %d, want %d: the file, the link's target and the three trees", rev.BytesRead, want)
	}
}

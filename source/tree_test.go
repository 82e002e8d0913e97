package source

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/internal/gittest"
)

// linkedCommit is a commit with symlinks of every kind: inside the
// repository (to a file, to a directory, to an ancestor), out of it, and in
// a loop.
func linkedCommit(t *testing.T) *Commit {
	t.Helper()
	repo := gittest.NewRepo(t)
	repo.Write(map[string]string{
		"base/cm.yaml":   "a: 1\n",
		"base/sub/x.txt": "x\n",
		"wide/README":    "",
	})
	for name, target := range map[string]string{
		"app/base":       "../base",
		"app/cm.yaml":    "../base/cm.yaml",
		"base/sub/up":    "../..",
		"app/passwd":     "/etc/passwd",
		"app/outside":    "../../outside",
		"app/loop1":      "loop2",
		"app/loop2":      "loop1",
		"app/self/.keep": "",
	} {
		p := filepath.Join(repo.Dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target == "" {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	repo.Commit("links", nil)
	c, err := NewFetcher(FetchOptions{CacheDir: t.TempDir()}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGitFSResolvesLinksInsideTheRepository(t *testing.T) {
	c := linkedCommit(t)
	view := newGitFS(c.repo.Storer, c.tree, DefaultRenderOptions(), &guard{})
	for _, tc := range []struct {
		path      string
		exists    bool
		dir       bool
		content   string
		cleanedAs [2]string
	}{
		{"/app/cm.yaml", true, false, "a: 1\n", [2]string{"/app", "cm.yaml"}},
		{"/app/base/cm.yaml", true, false, "a: 1\n", [2]string{"/app/base", "cm.yaml"}},
		{"/app/base", true, true, "", [2]string{"/app/base", ""}},
		{"/app/base/sub/up/base/cm.yaml", true, false, "a: 1\n", [2]string{"/app/base/sub/up/base", "cm.yaml"}},
		{"app/../base/cm.yaml", true, false, "a: 1\n", [2]string{"/base", "cm.yaml"}},
		{"/app/passwd", false, false, "", [2]string{}},
		{"/app/outside", false, false, "", [2]string{}},
		{"/app/loop1", false, false, "", [2]string{}},
		{"/nope", false, false, "", [2]string{}},
		{"/base/cm.yaml/x", false, false, "", [2]string{}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := view.Exists(tc.path); got != tc.exists {
				t.Fatalf("Exists = %v, want %v", got, tc.exists)
			}
			if got := view.IsDir(tc.path); got != tc.dir {
				t.Errorf("IsDir = %v, want %v", got, tc.dir)
			}
			if !tc.exists {
				if _, err := view.ReadFile(tc.path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("ReadFile error %v, want not exist", err)
				}
				return
			}
			dir, file, err := view.CleanedAbs(tc.path)
			if err != nil || string(dir) != tc.cleanedAs[0] || file != tc.cleanedAs[1] {
				t.Errorf("CleanedAbs = %q, %q, %v; want %q", dir, file, err, tc.cleanedAs)
			}
			if !tc.dir {
				data, err := view.ReadFile(tc.path)
				if err != nil || string(data) != tc.content {
					t.Errorf("ReadFile = %q, %v", data, err)
				}
			}
		})
	}
	if err := view.guard.refusal(); err != nil {
		t.Errorf("a refusal without RefuseEscapingSymlinks: %v", err)
	}
}

func TestGitFSRefusesEscapingLinks(t *testing.T) {
	c := linkedCommit(t)
	for _, p := range []string{"/app/passwd", "/app/outside", "/app/loop1"} {
		opts := DefaultRenderOptions()
		opts.RefuseEscapingSymlinks = true
		view := newGitFS(c.repo.Storer, c.tree, opts, &guard{})
		if view.Exists(p) {
			t.Errorf("%s exists", p)
		}
		err := view.guard.refusal()
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(p, "/")+" is a symlink") {
			t.Errorf("%s: refusal %v, want one naming the link", p, err)
		}
	}
}

// TestGitFSWalk walks the view: lexical order, links read as their targets,
// escaping links left out, and a link to an ancestor not entered again.
func TestGitFSWalk(t *testing.T) {
	c := linkedCommit(t)
	view := newGitFS(c.repo.Storer, c.tree, DefaultRenderOptions(), &guard{})
	var got []string
	err := view.Walk("/", func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && p != "/" {
			p += "/"
		}
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/", "/app/", "/app/base/", "/app/base/cm.yaml", "/app/base/sub/", "/app/base/sub/up/",
		"/app/base/sub/x.txt", "/app/cm.yaml", "/app/self/", "/app/self/.keep",
		"/base/", "/base/cm.yaml", "/base/sub/", "/base/sub/up/", "/base/sub/x.txt",
		"/wide/", "/wide/README",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("walk (-want +got)\n%s", diff)
	}
	matches, err := view.Glob("/app/*/cm.yaml")
	if err != nil || !cmp.Equal(matches, []string{"/app/base/cm.yaml"}) {
		t.Errorf("Glob = %v, %v", matches, err)
	}
}

func TestGitFSBoundsTreeEntries(t *testing.T) {
	repo := gittest.NewRepo(t)
	files := map[string]string{}
	for i := range 50 {
		files["many/"+strings.Repeat("f", i+1)] = ""
	}
	files["small/a.yaml"] = "a: 1\n"
	repo.Commit("many", files)
	c, err := NewFetcher(FetchOptions{CacheDir: t.TempDir()}).Fetch(context.Background(), repo.Dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultRenderOptions()
	opts.MaxTreeEntries = 20
	view := newGitFS(c.repo.Storer, c.tree, opts, &guard{})
	if _, err := view.ReadFile("/small/a.yaml"); err != nil {
		t.Fatalf("a path beside the big directory: %v", err)
	}
	if view.Exists("/many/f") {
		t.Fatal("went through a directory of 50 entries with a bound of 20")
	}
	if err := view.guard.refusal(); err == nil || !strings.Contains(err.Error(), "more than 20 Git tree entries") {
		t.Errorf("refusal %v, want one naming the bound", err)
	}
}

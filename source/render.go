package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/hashicorp/go-hclog"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/source/helm"
)

// RenderOptions configures Render.
type RenderOptions struct {
	// AllowRemoteBases lets kustomizations name remote bases and files
	// (git URLs, https:// resources). Off by default: a revision should depend
	// on its commit alone, and fetching during a render is a network path an
	// attacker with write access to the repository could point anywhere.
	// When off, Commit.Render builds kustomizations in a sandbox that cannot
	// fetch (see docs/security.md). When on, the commit is rendered in this
	// process from a temporary checkout on disk and kustomize runs the `git`
	// binary, which must be on PATH.
	AllowRemoteBases bool
	// MaxFileBytes bounds each file read (0: no limit). A file over it is
	// an error when the render reads it, refused from its size before its
	// content is read; files the render does not reach are never read.
	MaxFileBytes int64
	// MaxRenderBytes bounds the bytes one render reads in total (0: no
	// limit), every read counted: the same file read through two paths or
	// twice counts twice, and Git trees, symlink targets and the bytes YAML
	// aliases add once expanded count too. Sandboxed renders also refuse an
	// output of more than this, and every render more than one object per
	// 4 KiB of it. gantry.yaml: source.maxRenderBytes.
	MaxRenderBytes int64
	// MaxTreeEntries bounds the Git tree entries a render decodes or lists
	// (0: no limit), each listing counted; a tree is refused from its size
	// before it is decoded when it cannot fit.
	MaxTreeEntries int
	// RefuseEscapingSymlinks refuses a symlink the render comes across whose
	// target leaves the repository (an absolute path, or ../ beyond the
	// root), instead of leaving it out: for untrusted branches, an attempt
	// is an error worth seeing.
	RefuseEscapingSymlinks bool
	// SandboxCharts renders Helm charts in the sandbox process too (an
	// untrusted branch's). A trusted stack's chart renders in this
	// process: Helm's templates cannot fetch anything (no DNS, lookup
	// returns nothing), and the sandbox's process would cost more than the
	// render (docs/sources.md).
	SandboxCharts bool
	// MaxMemoryBytes bounds the memory of a sandboxed render's process (0:
	// no limit): it is stopped when its resident memory passes this.
	MaxMemoryBytes int64
	// Timeout bounds a render (0: only the context's deadline); a
	// sandboxed one is killed when it passes.
	Timeout time.Duration
	// Helm renders a directory holding Chart.yaml (nil: the chart's
	// defaults); ignored for other paths.
	Helm *HelmOptions `json:"helm,omitempty"`
	// Dependencies fetches the archive of a chart's dependency that its
	// charts/ does not hold (nil: such a chart fails to render, naming
	// them). Renders in this process only: a sandboxed render (an
	// untrusted branch's chart) fetches nothing.
	Dependencies func(ctx context.Context, dep helm.Dependency) ([]byte, error) `json:"-"`
	// Logger receives warnings about the sandbox; nil discards them.
	Logger hclog.Logger `json:"-"`

	skipPreCheck   bool // tests: prove the sandbox alone stops fetches
	skipYAMLBounds bool // tests: prove the sandbox alone bounds memory
	inProcess      bool // benchmarks: the build without the sandbox, to compare
}

// DefaultRenderOptions returns the safe defaults: remote bases off, files
// up to 32 MiB (kube-prometheus's largest manifest is 1.5 MB), 256 MiB read
// per render (all of kube-prometheus is 5.7 MB) and so at most 65,536
// objects, 200,000 tree entries, 2 minutes, and 1 GiB of memory for a
// sandboxed render.
func DefaultRenderOptions() RenderOptions {
	return RenderOptions{
		MaxFileBytes:   32 << 20,
		MaxRenderBytes: 256 << 20,
		MaxTreeEntries: 200000,
		MaxMemoryBytes: 1 << 30,
		Timeout:        2 * time.Minute,
	}
}

// UntrustedRenderOptions are for branches anyone may push to (pull
// requests from forks): no remote bases, files up to 8 MiB, 64 MiB read in
// total, 512 MiB of memory, one minute, and symlinks leaving the repository
// refused. Plugins are always off and loads always confined to each
// kustomization's root.
func UntrustedRenderOptions() RenderOptions {
	return RenderOptions{
		MaxFileBytes:           8 << 20,
		MaxRenderBytes:         64 << 20,
		MaxTreeEntries:         100000,
		MaxMemoryBytes:         512 << 20,
		Timeout:                time.Minute,
		RefuseEscapingSymlinks: true,
		SandboxCharts:          true,
	}
}

// manifestExts are the file extensions read from a plain YAML directory.
var manifestExts = []string{".yaml", ".yml", ".json"}

// Render renders p, a path inside the commit, into a Revision. A directory
// holding a kustomization is built with kustomize (plugins off, files loaded
// only from inside each kustomization's root; without AllowRemoteBases in a
// sandbox process that cannot fetch); any other directory is read as plain
// manifests, recursively; a single file is read as plain manifests. Only
// what the render reaches is read from the commit, within opts' bounds.
func (c *Commit) Render(ctx context.Context, p string, opts RenderOptions) (*Revision, error) {
	rel, err := cleanRepoPath(p)
	if err != nil {
		return nil, err
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	objs, read, err := c.render(ctx, rel, opts)
	if err != nil {
		return nil, cutError(err)
	}
	rev, err := NewRevision(c.SHA, objs)
	if err != nil {
		return nil, cutError(err)
	}
	rev.BytesRead = read
	return rev, nil
}

// render renders rel, a clean repository path, returning the objects and
// the bytes read.
func (c *Commit) render(ctx context.Context, rel string, opts RenderOptions) ([]*unstructured.Unstructured, int64, error) {
	g := newGuard(ctx, opts.Timeout)
	var objects storer.EncodedObjectStorer = c.repo.Storer
	if c.dir != "" {
		// A storage of the render's own, which keeps a few pack files open
		// between reads (a chart's hundred small files would otherwise open
		// the pack for each) and closes them when the render ends.
		st := renderStorage(c.dir)
		defer st.Close()
		objects = withObjectCache(st, c.dir)
	}
	view := newGitFS(objects, c.tree, opts, g)
	view.dir = c.dir
	root := "/" + rel
	if rel == "." {
		root = "/"
	}
	if !view.Exists(root) {
		if err := g.refusal(); err != nil {
			return nil, 0, fmt.Errorf("render %s at %s: %w", rel, object.ShortSHA(c.SHA), err)
		}
		return nil, 0, fmt.Errorf("path %q does not exist in %s at %s (%s): check --path, which is relative to the repository root",
			rel, c.Repo, c.Ref, object.ShortSHA(c.SHA))
	}
	var objs []*unstructured.Unstructured
	var read int64
	var err error
	if sandboxed(view, root, opts) {
		objs, read, err = c.renderSandboxed(ctx, rel, opts)
	} else {
		objs, read, err = renderView(view, g, root, opts)
	}
	if err != nil {
		return nil, read, fmt.Errorf("render %s at %s: %w", rel, object.ShortSHA(c.SHA), err)
	}
	return objs, read, nil
}

// sandboxed reports whether root of view renders in the sandbox process: a
// kustomization unless remote bases are allowed, a chart of an untrusted
// branch.
func sandboxed(view *gitFS, root string, opts RenderOptions) bool {
	if opts.inProcess || !view.IsDir(root) {
		return false
	}
	if isChart(view, root) {
		return opts.SandboxCharts
	}
	return !opts.AllowRemoteBases && kustomizationFile(view, root) != ""
}

// renderView renders root of a commit's view in this process: the body of
// a render, in the sandbox or not. It returns the objects and the bytes
// read; a refusal of the reads wins over the error kustomize made of it.
func renderView(view *gitFS, g *guard, root string, opts RenderOptions) ([]*unstructured.Unstructured, int64, error) {
	var objs []*unstructured.Unstructured
	rebase := func(err error) error { return err }
	err := g.within(func() error {
		fsys, root, cleanup, err := viewFileSystem(view, g, root, opts)
		if err != nil {
			return err
		}
		defer cleanup()
		rebase = fsys.rebase
		objs, err = render(fsys, root, opts)
		return err
	})
	return objs, g.bytesRead(), rebase(err)
}

// viewFileSystem is the file system a render of view reads: the view
// through the bounds, or for a kustomization with remote bases a temporary
// checkout of it on disk.
func viewFileSystem(view *gitFS, g *guard, root string, opts RenderOptions) (*boundedFS, string, func(), error) {
	fsys := newBoundedFS(view, opts, g)
	if opts.AllowRemoteBases && fsys.IsDir(root) && kustomizationFile(fsys, root) != "" {
		return onDisk(view, fsys, root)
	}
	return fsys, root, func() {}, nil
}

// within runs f and returns the guard's refusal, if any, else f's error.
func (g *guard) within(f func() error) error {
	err := f()
	if r := g.refusal(); r != nil {
		return r
	}
	return err
}

// Render renders dir of fsys into objects, in this process. It is
// Commit.Render without Git and without the sandbox: for callers holding a
// file system of their own (tests, local tools) with content they trust
// not to name remote locations. The reads are bounded as Commit.Render's
// (MaxFileBytes, MaxRenderBytes, YAML bounds); remote entries are refused
// by the pre-check only.
func Render(fsys filesys.FileSystem, dir string, opts RenderOptions) ([]*unstructured.Unstructured, error) {
	g := &guard{}
	var objs []*unstructured.Unstructured
	err := g.within(func() (err error) {
		objs, err = render(newBoundedFS(fsys, opts, g), dir, opts)
		return err
	})
	return objs, cutError(err)
}

func render(fsys filesys.FileSystem, dir string, opts RenderOptions) ([]*unstructured.Unstructured, error) {
	if isChart(fsys, dir) {
		return renderChart(fsys, dir, opts)
	}
	if fsys.IsDir(dir) && kustomizationFile(fsys, dir) != "" {
		return renderKustomization(fsys, dir, opts)
	}
	return readManifests(fsys, dir, maxObjects(opts))
}

// cleanRepoPath cleans a repository-relative path and refuses one that is
// absolute or climbs out of the repository.
func cleanRepoPath(p string) (string, error) {
	if p == "" {
		return ".", nil
	}
	c := path.Clean(filepath.ToSlash(p))
	if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("path %q must be relative to the repository root and stay inside it", p)
	}
	return c, nil
}

// onDisk writes the files of a commit's view to a new temporary directory,
// for renders that need kustomize's on-disk loader (remote bases: kustomize
// clones them to disk and reads them through the same file system). Each
// file copied counts against the render's budget; one over MaxFileBytes is
// written empty, and refused if the render reads it. It returns the
// on-disk file system (kustomize's reads, of the copy and of its clones, go
// through the same bounds as any render's, and its errors name the
// repository's paths), root's path inside the copy, and a cleanup that
// removes the temporary directory and nothing else.
func onDisk(view *gitFS, bounds *boundedFS, root string) (*boundedFS, string, func(), error) {
	tmp, err := os.MkdirTemp("", "gantry-render-")
	if err != nil {
		return nil, "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	base := filepath.Join(tmp, "repo")
	disk := newBoundedFS(filesys.MakeFsOnDisk(), bounds.opts, bounds.guard)
	disk.checkout, disk.tooLarge = base, map[string]int64{}
	err = view.Walk("/", func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		dst := filepath.Join(base, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		size, err := view.fileSize(p)
		if err != nil {
			return err
		}
		if limit := bounds.opts.MaxFileBytes; limit > 0 && size > limit {
			disk.tooLarge[dst] = size // a large file elsewhere in the repository costs nothing
			return os.WriteFile(dst, nil, 0o644)
		}
		data, err := view.ReadFile(p)
		if err == nil {
			err = bounds.count(p, len(data))
		}
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err == nil {
		err = os.MkdirAll(filepath.Join(base, filepath.FromSlash(root)), 0o755)
	}
	if err != nil {
		cleanup()
		return nil, "", nil, errors.Join(errors.New("copy commit to a temporary checkout"), err)
	}
	return disk, filepath.Join(base, filepath.FromSlash(root)), cleanup, nil
}

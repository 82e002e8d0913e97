package source

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/object"
)

// RenderOptions configures Render.
type RenderOptions struct {
	// AllowRemoteBases lets kustomizations name remote bases and files
	// (git URLs, https:// resources). Off by default: a revision should depend
	// on its commit alone, and fetching during a render is a network path an
	// attacker with write access to the repository could point anywhere.
	// When on, the commit is rendered from a temporary checkout on disk and
	// kustomize runs the `git` binary, which must be on PATH.
	AllowRemoteBases bool
	// MaxFileBytes bounds the files read (0: no limit): one larger under
	// the path rendered is an error, one elsewhere in the commit is left out
	// unread. Nobody who can push a branch can make gantry read gigabytes
	// into memory.
	MaxFileBytes int64
	// RefuseEscapingSymlinks refuses a commit holding a symlink whose target
	// leaves the repository (an absolute path, or ../ beyond the root),
	// instead of dropping it: for untrusted branches, an attempt is an error
	// worth seeing.
	RefuseEscapingSymlinks bool
}

// DefaultRenderOptions returns the safe defaults: remote bases off, files
// up to 32 MiB (kube-prometheus's largest manifest is 1.5 MB).
func DefaultRenderOptions() RenderOptions { return RenderOptions{MaxFileBytes: 32 << 20} }

// UntrustedRenderOptions are for branches anyone may push to (pull
// requests from forks): no remote bases, files up to 8 MiB, and symlinks
// leaving the repository refused. Plugins are always off and loads always
// confined to each kustomization's root.
func UntrustedRenderOptions() RenderOptions {
	return RenderOptions{MaxFileBytes: 8 << 20, RefuseEscapingSymlinks: true}
}

// manifestExts are the file extensions read from a plain YAML directory.
var manifestExts = []string{".yaml", ".yml", ".json"}

// Render renders p, a path inside the commit, into a Revision. A directory
// holding a kustomization is built with kustomize (plugins off, files loaded
// only from inside each kustomization's root); any other directory is read as
// plain manifests, recursively; a single file is read as plain manifests.
func (c *Commit) Render(p string, opts RenderOptions) (*Revision, error) {
	rel, err := cleanRepoPath(p)
	if err != nil {
		return nil, err
	}
	fsys, err := treeFileSystem(c.tree, opts, rel)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", c.Repo, object.ShortSHA(c.SHA), err)
	}
	root := "/" + rel
	if rel == "." {
		root = "/"
	}
	if !fsys.Exists(root) {
		return nil, fmt.Errorf("path %q does not exist in %s at %s (%s): check --path, which is relative to the repository root",
			rel, c.Repo, c.Ref, object.ShortSHA(c.SHA))
	}
	if opts.AllowRemoteBases {
		var cleanup func()
		fsys, root, cleanup, err = onDisk(fsys, root)
		if err != nil {
			return nil, err
		}
		defer cleanup()
	}
	objs, err := Render(fsys, root, opts)
	if err != nil {
		return nil, fmt.Errorf("render %s at %s: %w", rel, object.ShortSHA(c.SHA), err)
	}
	return NewRevision(c.SHA, objs)
}

// Render renders dir of fsys into objects. It is Commit.Render without Git:
// callers holding a file system of their own (tests, local tools) use it.
func Render(fsys filesys.FileSystem, dir string, opts RenderOptions) ([]*unstructured.Unstructured, error) {
	if fsys.IsDir(dir) && kustomizationFile(fsys, dir) != "" {
		return renderKustomization(fsys, dir, opts)
	}
	return readManifests(fsys, dir)
}

func renderKustomization(fsys filesys.FileSystem, dir string, opts RenderOptions) ([]*unstructured.Unstructured, error) {
	if err := checkKustomization(fsys, dir, opts, map[string]bool{}); err != nil {
		return nil, err
	}
	k := krusty.MakeKustomizer(&krusty.Options{
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: types.LoadRestrictionsRootOnly,
		PluginConfig:     types.DisabledPluginConfig(),
	})
	resources, err := k.Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", display(dir), scrubKustomize(fsys, dir, err))
	}
	out := make([]*unstructured.Unstructured, 0, resources.Size())
	for _, r := range resources.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", display(dir), r.CurId(), err)
		}
		var m map[string]any
		if err := utiljson.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", display(dir), r.CurId(), err)
		}
		u := &unstructured.Unstructured{Object: m}
		if err := object.Validate(u); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", display(dir), r.CurId(), object.ScrubError(err, u))
		}
		out = append(out, u)
	}
	return out, nil
}

// readManifests reads every manifest file under dir (or dir itself, when it is
// a file) in lexical path order, skipping dot-files and dot-directories.
func readManifests(fsys filesys.FileSystem, dir string) ([]*unstructured.Unstructured, error) {
	var files []string
	err := fsys.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		hidden := strings.HasPrefix(info.Name(), ".") && p != dir
		if info.IsDir() {
			if hidden {
				return filepath.SkipDir
			}
			return nil
		}
		if !hidden && (p == dir || slices.Contains(manifestExts, strings.ToLower(path.Ext(p)))) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", display(dir), err)
	}
	slices.Sort(files)

	var out []*unstructured.Unstructured
	first := map[object.Ref]string{}
	for _, f := range files {
		data, err := fsys.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", display(f), err)
		}
		for _, d := range splitDocuments(display(f), data) {
			objs, err := decodeDocument(d)
			if err != nil {
				return nil, err
			}
			for _, u := range objs {
				ref := object.RefOf(u)
				if prev, dup := first[ref]; dup {
					return nil, fmt.Errorf("%s: %s is defined twice (first at %s): remove one of them", d.where(), ref, prev)
				}
				first[ref] = d.where()
				out = append(out, u)
			}
		}
	}
	return out, nil
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

// onDisk copies an in-memory tree to a new temporary directory, for renders
// that need kustomize's on-disk loader (remote bases). It returns the on-disk
// file system, root's path inside the copy, and a cleanup that removes the
// temporary directory and nothing else.
func onDisk(mem filesys.FileSystem, root string) (filesys.FileSystem, string, func(), error) {
	tmp, err := os.MkdirTemp("", "gantry-render-")
	if err != nil {
		return nil, "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	base := filepath.Join(tmp, "repo")
	err = mem.Walk("/", func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := mem.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(base, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
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
	return filesys.MakeFsOnDisk(), filepath.Join(base, filepath.FromSlash(root)), cleanup, nil
}

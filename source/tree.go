package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// maxSymlinkHops bounds how many symlinks are followed to resolve one path.
const maxSymlinkHops = 8

// maxLinkTarget bounds the length of a symlink's target: longer is no path.
const maxLinkTarget = 4096

// FileSystem returns the commit's tree as a read-only file system rooted at
// "/", read lazily (a file's content is read when it is read, not before)
// and bounded by DefaultRenderOptions. Rendering reads only this view, so
// nothing outside the committed tree (the rest of the disk, the working
// tree, uncommitted files) can leak into a revision. A symlink reads as its
// target when the target is inside the repository and is absent otherwise;
// submodules are absent.
func (c *Commit) FileSystem() filesys.FileSystem {
	return newGitFS(c.repo.Storer, c.tree, DefaultRenderOptions(), &guard{})
}

// gitFS is a read-only filesys.FileSystem over one Git tree, rooted at "/".
// Trees are decoded when a path goes through them and blobs are read when
// a file is read: what a render does not reach costs nothing (the root's
// tree is decoded by every render). What it reaches is bounded before it is
// decoded (tree_decode.go): a tree's bytes count against the render's
// budget, its entries against MaxTreeEntries (each listing counts them
// again, so a directory linked forty times is refused instead of walked),
// names against NAME_MAX and paths against PATH_MAX; symlink targets count
// against the budget too.
type gitFS struct {
	objects storer.EncodedObjectStorer
	root    plumbing.Hash
	opts    RenderOptions
	guard   *guard
	dir     string // the bare repository objects is of ("": unknown), for readers of their own

	mu      sync.Mutex
	trees   map[plumbing.Hash][]treeEntry // decoded trees, entries sorted by name
	links   map[plumbing.Hash]string      // symlink targets read
	entries int                           // tree entries decoded or listed
}

func newGitFS(objects storer.EncodedObjectStorer, root plumbing.Hash, opts RenderOptions, g *guard) *gitFS {
	return &gitFS{
		objects: objects, root: root, opts: opts, guard: g,
		trees: map[plumbing.Hash][]treeEntry{},
		links: map[plumbing.Hash]string{},
	}
}

// node is a resolved path: a directory (tree) or a file (blob).
type node struct {
	name string // repository-relative path as asked, "." for the root
	dir  bool
	mode filemode.FileMode
	hash plumbing.Hash
}

// notExist is the error for paths that are not in the view; it says so
// as kustomize's in-memory file system does and is an fs.ErrNotExist.
type notExist string

func (e notExist) Error() string { return fmt.Sprintf("'%s' doesn't exist", string(e)) }
func (e notExist) Unwrap() error { return fs.ErrNotExist }

func errNotExist(p string) error { return notExist(p) }

// lookup resolves p (absolute in the view, or relative to its root),
// following symlinks inside the repository. An escaping link is absent, or
// a refusal under RefuseEscapingSymlinks. Its cost is linear in the path's
// length, which is bounded (maxPathBytes).
func (f *gitFS) lookup(p string) (node, error) {
	if err := f.guard.alive(); err != nil {
		return node{}, err
	}
	rel := viewPath(p)
	if len(rel) > maxPathBytes {
		return node{}, f.guard.refuse(pathTooLong(rel))
	}
	// joined is the path being resolved and parts its components:
	// parts[i] starts at joined[off], so the directory holding it is
	// joined[:off-1] without building a string per component.
	joined, parts := rel, splitPath(rel)
	cur, off, hops := f.rootNode(), 0, 0
	for i := 0; i < len(parts); i++ {
		if !cur.dir {
			return node{}, errNotExist(p)
		}
		e, ok, err := f.entry(dirOf(joined, off), cur.hash, parts[i])
		if err != nil {
			return node{}, err
		}
		if !ok {
			return node{}, errNotExist(p)
		}
		off += len(parts[i]) + 1
		switch e.mode {
		case filemode.Submodule:
			return node{}, errNotExist(p)
		case filemode.Symlink:
			hops++
			here := dirOf(joined, off)
			target, err := f.linkTarget(here, e.hash)
			if err != nil {
				return node{}, err
			}
			next, ok := followLink(here, target)
			if !ok || hops > maxSymlinkHops {
				if f.opts.RefuseEscapingSymlinks {
					return node{}, f.guard.refuse(fmt.Errorf("%s is a symlink to %q, which leaves the repository (or loops): refused for this render", here, target))
				}
				return node{}, errNotExist(p)
			}
			joined = path.Join(append([]string{next}, parts[i+1:]...)...)
			if len(joined) > maxPathBytes {
				return node{}, f.guard.refuse(pathTooLong(joined))
			}
			parts, cur, off, i = splitPath(joined), f.rootNode(), 0, -1
			continue
		}
		cur = node{dir: e.mode == filemode.Dir, mode: e.mode, hash: e.hash}
	}
	cur.name = rel
	return cur, nil
}

// rootNode is the repository's root directory.
func (f *gitFS) rootNode() node {
	return node{name: ".", dir: true, mode: filemode.Dir, hash: f.root}
}

// dirOf returns the directory of joined whose components end before off,
// "." for the root.
func dirOf(joined string, off int) string {
	if off <= 1 {
		return "."
	}
	return joined[:off-1]
}

// followLink returns the repository-relative path a link at here pointing
// at target names, or false when it leaves the repository.
func followLink(here, target string) (string, bool) {
	if target == "" || path.IsAbs(target) || strings.ContainsRune(target, 0) {
		return "", false
	}
	next := path.Join(path.Dir(here), target)
	if next == ".." || strings.HasPrefix(next, "../") {
		return "", false
	}
	return next, true
}

// viewPath turns a path of the view ("/a/b", "a/b", "/") into a clean
// repository-relative one ("a/b", ".").
func viewPath(p string) string {
	c := path.Clean("/" + filepath.ToSlash(p))
	if c == "/" {
		return "."
	}
	return c[1:]
}

func splitPath(rel string) []string {
	if rel == "." || rel == "" {
		return nil
	}
	return strings.Split(rel, "/")
}

// linkTarget reads the target of the symlink at here, counted against the
// render's budget when it is read from Git (once per link blob).
func (f *gitFS) linkTarget(here string, h plumbing.Hash) (string, error) {
	f.mu.Lock()
	t, ok := f.links[h]
	f.mu.Unlock()
	if ok {
		return t, nil
	}
	b, err := object.GetBlob(f.objects, h)
	if err != nil {
		return "", fmt.Errorf("read symlink %s: %w", here, err)
	}
	if b.Size > maxLinkTarget {
		return "", nil // no path is this long: an escaping link
	}
	if err := f.guard.spend("the symlink "+here, b.Size, f.opts.MaxRenderBytes); err != nil {
		return "", err
	}
	data, err := readBlob(b)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	f.links[h] = string(data)
	f.mu.Unlock()
	return string(data), nil
}

func readBlob(b *object.Blob) ([]byte, error) {
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data := make([]byte, 0, b.Size)
	buf := bytes.NewBuffer(data)
	_, err = io.Copy(buf, io.LimitReader(r, b.Size))
	return buf.Bytes(), err
}

// ReadFile reads a file of the view. A file over MaxFileBytes is refused
// before its content is read.
func (f *gitFS) ReadFile(p string) ([]byte, error) {
	n, err := f.lookup(p)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, fmt.Errorf("read %s: is a directory", display(n.name))
	}
	b, err := object.GetBlob(f.objects, n.hash)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", n.name, err)
	}
	if f.opts.MaxFileBytes > 0 && b.Size > f.opts.MaxFileBytes {
		return nil, f.guard.refuse(fileTooLarge(n.name, b.Size, f.opts.MaxFileBytes))
	}
	data, err := readBlob(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", n.name, err)
	}
	return data, nil
}

// fileSize returns the size of the file at p, read from its blob's header.
func (f *gitFS) fileSize(p string) (int64, error) {
	n, err := f.lookup(p)
	if err != nil {
		return 0, err
	}
	b, err := object.GetBlob(f.objects, n.hash)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", n.name, err)
	}
	return b.Size, nil
}

func fileTooLarge(name string, size, limit int64) error {
	return fmt.Errorf("%s is %d bytes, over the limit of %d bytes for a rendered file: keep large files out of the path rendered", display(name), size, limit)
}

// Exists reports whether p is in the view.
func (f *gitFS) Exists(p string) bool {
	_, err := f.lookup(p)
	return err == nil
}

// IsDir reports whether p is a directory of the view.
func (f *gitFS) IsDir(p string) bool {
	n, err := f.lookup(p)
	return err == nil && n.dir
}

// CleanedAbs splits p into a directory and a file name (empty for a
// directory). Paths are not resolved through symlinks: a link reads as a
// copy of its target at the link's own path.
func (f *gitFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	n, err := f.lookup(p)
	if err != nil {
		return "", "", err
	}
	abs := path.Join("/", n.name)
	if n.dir {
		return filesys.ConfirmedDir(abs), "", nil
	}
	return filesys.ConfirmedDir(path.Dir(abs)), path.Base(abs), nil
}

// Open opens a file for reading (its whole content is read, as ReadFile).
func (f *gitFS) Open(p string) (filesys.File, error) {
	data, err := f.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &readOnlyFile{Reader: bytes.NewReader(data), name: path.Base(viewPath(p))}, nil
}

// info describes n for Walk. Sizes are not read: the walk needs names and
// kinds only, and reading a blob's size costs reading its header.
func (f *gitFS) info(name string, n node) os.FileInfo {
	return fileInfo{name: name, dir: n.dir}
}

var errReadOnly = errors.New("the commit is read-only during a render")

// Create is refused: the view is read-only.
func (f *gitFS) Create(string) (filesys.File, error) { return nil, errReadOnly }

// Mkdir is refused: the view is read-only.
func (f *gitFS) Mkdir(string) error { return errReadOnly }

// MkdirAll is refused: the view is read-only.
func (f *gitFS) MkdirAll(string) error { return errReadOnly }

// RemoveAll is refused: the view is read-only.
func (f *gitFS) RemoveAll(string) error { return errReadOnly }

// WriteFile is refused: the view is read-only.
func (f *gitFS) WriteFile(string, []byte) error { return errReadOnly }

type fileInfo struct {
	name string
	size int64
	dir  bool
}

func (i fileInfo) Name() string { return i.name }
func (i fileInfo) Size() int64  { return i.size }
func (i fileInfo) Mode() os.FileMode {
	if i.dir {
		return os.ModeDir | 0o555
	}
	return 0o444
}
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return i.dir }
func (i fileInfo) Sys() any           { return nil }

// readOnlyFile is a filesys.File over content already read.
type readOnlyFile struct {
	*bytes.Reader
	name string
}

func (r *readOnlyFile) Write([]byte) (int, error) { return 0, errReadOnly }
func (r *readOnlyFile) Close() error              { return nil }
func (r *readOnlyFile) Stat() (os.FileInfo, error) {
	return fileInfo{name: r.name, size: r.Size()}, nil
}

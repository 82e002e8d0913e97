package source

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// ArtifactStore keeps the files of OCI artifacts (manifests pushed with
// `flux push artifact` or `oras push`) as Git trees in a bare repository of
// the cache, one tree per artifact digest. An artifact is then rendered as
// any commit is: read lazily through a bounded view, a kustomization in the
// sandbox process (which opens the store as it opens the Git cache). Git's
// objects are content-addressed, so files two artifacts share are stored
// once.
type ArtifactStore struct {
	dir string
}

// OpenArtifactStore opens (or creates) the store in dir, private to its
// owner.
func OpenArtifactStore(dir string) (*ArtifactStore, error) {
	st := cacheStorage(dir)
	if _, err := git.Open(st, nil); errors.Is(err, git.ErrRepositoryNotExists) {
		if _, err := git.Init(st, nil); err != nil {
			return nil, fmt.Errorf("artifact store %s: %w", dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("artifact store %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	return &ArtifactStore{dir: dir}, nil
}

// digestFile is where the tree of an artifact digest (hex SHA-256) is
// named, once all its objects are stored.
func (s *ArtifactStore) digestFile(digest string) string {
	return filepath.Join(s.dir, "artifacts", digest)
}

// Commit returns the artifact of digest (its manifest's hex SHA-256) as a
// Commit of repo, at ref, to render; ok is false when it is not stored.
func (s *ArtifactStore) Commit(digest, repo, ref string) (c *Commit, ok bool, err error) {
	if !ValidDigest(digest) {
		return nil, false, fmt.Errorf("artifact digest %q is not a hex SHA-256", digest)
	}
	data, err := os.ReadFile(s.digestFile(digest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	tree := plumbing.NewHash(strings.TrimSpace(string(data)))
	st := cacheStorage(s.dir)
	if st.HasEncodedObject(tree) != nil {
		return nil, false, nil // the store lost it: fetched again
	}
	r, err := git.Open(st, nil)
	if err != nil {
		return nil, false, err
	}
	return &Commit{Repo: repo, Ref: ref, SHA: digest, tree: tree, repo: r, dir: s.dir}, true, nil
}

// ValidDigest reports whether d is a SHA-256 in lowercase hex.
func ValidDigest(d string) bool {
	if len(d) != 64 {
		return false
	}
	for _, c := range d {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// TreeBuilder stores an artifact's files as a Git tree. Paths must be
// clean, relative, and name each file once (the artifact's reader checks
// them first, naming the entry; the builder refuses what slipped through).
type TreeBuilder struct {
	store  *ArtifactStore
	st     *filesystem.Storage
	root   *dirNode
	unlock func()
}

type dirNode struct {
	files map[string]plumbing.Hash
	dirs  map[string]*dirNode
}

func newDirNode() *dirNode {
	return &dirNode{files: map[string]plumbing.Hash{}, dirs: map[string]*dirNode{}}
}

// Builder starts a tree, holding the store's lock (other processes
// sharing the cache wait) until Finish or Abort.
func (s *ArtifactStore) Builder() (*TreeBuilder, error) {
	unlock, err := lockDir(s.dir)
	if err != nil {
		return nil, err
	}
	return &TreeBuilder{store: s, st: cacheStorage(s.dir), root: newDirNode(), unlock: unlock}, nil
}

// Add stores a file of the artifact at p (slash-separated, relative).
func (b *TreeBuilder) Add(p string, data []byte) error {
	if p == "" || path.Clean(p) != p || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("%q is not a clean relative path", p)
	}
	parts := strings.Split(p, "/")
	d := b.root
	for _, name := range parts[:len(parts)-1] {
		if _, ok := d.files[name]; ok {
			return fmt.Errorf("%q: %s is a file and a directory", p, name)
		}
		next, ok := d.dirs[name]
		if !ok {
			next = newDirNode()
			d.dirs[name] = next
		}
		d = next
	}
	name := parts[len(parts)-1]
	if _, ok := d.dirs[name]; ok {
		return fmt.Errorf("%q is a file and a directory", p)
	}
	if _, ok := d.files[name]; ok {
		return fmt.Errorf("%q is in the artifact twice", p)
	}
	h, err := b.write(plumbing.BlobObject, data)
	if err != nil {
		return err
	}
	d.files[name] = h
	return nil
}

// write stores one object.
func (b *TreeBuilder) write(t plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	obj := b.st.NewEncodedObject()
	obj.SetType(t)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return b.st.SetEncodedObject(obj)
}

// tree stores d's tree (its subtrees first) and returns its hash.
func (b *TreeBuilder) tree(d *dirNode) (plumbing.Hash, error) {
	var t object.Tree
	for name, h := range d.files {
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	for name, sub := range d.dirs {
		h, err := b.tree(sub)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	// Git's order: a directory sorts as its name followed by "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(t.Entries, func(i, j int) bool { return key(t.Entries[i]) < key(t.Entries[j]) })
	obj := b.st.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return b.st.SetEncodedObject(obj)
}

// Finish stores the trees and names the root as digest's tree.
func (b *TreeBuilder) Finish(digest string) error {
	defer b.unlock()
	if !ValidDigest(digest) {
		return fmt.Errorf("artifact digest %q is not a hex SHA-256", digest)
	}
	root, err := b.tree(b.root)
	if err != nil {
		return err
	}
	file := b.store.digestFile(digest)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(root.String()+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// Abort gives up the tree: its objects stay (unnamed, they cost disk
// only), and the lock is released.
func (b *TreeBuilder) Abort() { b.unlock() }

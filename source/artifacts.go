package source

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gantryops/gantry/internal/atomicfile"

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
	unlock, err := lockDir(dir) // two processes creating it at once
	if err != nil {
		return nil, err
	}
	defer unlock()
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

// keyFile is where the tree of an artifact's key (a hex SHA-256: its
// digest, or a hash of its digest and the layer chosen) is named, once all
// its objects are stored.
func (s *ArtifactStore) keyFile(key string) string {
	return filepath.Join(s.dir, "artifacts", key)
}

// Commit returns the artifact stored under key as a Commit of repo, at
// ref, its SHA the artifact's digest (its manifest's hex SHA-256), to
// render; ok is false when it is not stored.
func (s *ArtifactStore) Commit(key, digest, repo, ref string) (c *Commit, ok bool, err error) {
	if !ValidDigest(key) || !ValidDigest(digest) {
		return nil, false, fmt.Errorf("artifact digest %q (key %q) is not a hex SHA-256", digest, key)
	}
	data, err := os.ReadFile(s.keyFile(key))
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
// Objects are written as they come, content-addressed (another process
// writing the same object writes the same bytes), and the tree is named
// only by Finish: until then nothing reads them.
type TreeBuilder struct {
	store    *ArtifactStore
	st       *filesystem.Storage
	root     *dirNode
	nodes    int // files and directories
	maxNodes int
}

type dirNode struct {
	files map[string]plumbing.Hash
	dirs  map[string]*dirNode
}

func newDirNode() *dirNode {
	return &dirNode{files: map[string]plumbing.Hash{}, dirs: map[string]*dirNode{}}
}

// Builder starts a tree of at most maxNodes files and directories (0: no
// limit): a deep path makes a directory per part, and each is a tree
// object to write.
func (s *ArtifactStore) Builder(maxNodes int) *TreeBuilder {
	return &TreeBuilder{store: s, st: cacheStorage(s.dir), root: newDirNode(), maxNodes: maxNodes}
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
			if err := b.grow(); err != nil {
				return err
			}
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
	if err := b.grow(); err != nil {
		return err
	}
	h, err := b.write(plumbing.BlobObject, data)
	if err != nil {
		return err
	}
	d.files[name] = h
	return nil
}

// grow counts a node, refusing one past maxNodes.
func (b *TreeBuilder) grow() error {
	b.nodes++
	if b.maxNodes > 0 && b.nodes > b.maxNodes {
		return fmt.Errorf("more than %d files and directories", b.maxNodes)
	}
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

// Finish stores the trees and names the root as key's tree.
func (b *TreeBuilder) Finish(key string) error {
	if !ValidDigest(key) {
		return fmt.Errorf("artifact key %q is not a hex SHA-256", key)
	}
	root, err := b.tree(b.root)
	if err != nil {
		return err
	}
	return atomicfile.Write(b.store.keyFile(key), []byte(root.String()+"\n"))
}

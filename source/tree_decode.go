package source

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// Bounds on the Git trees a render goes through. A tree object is a few
// kilobytes of a pack however much it holds (Git compresses names that
// repeat): the bounds are checked before a tree is decoded, or while it is
// read, never after.
const (
	// maxNameBytes bounds one name in a tree: NAME_MAX on Linux, so no
	// checkout could hold a longer one.
	maxNameBytes = 255
	// maxPathBytes bounds a repository path: PATH_MAX on Linux. It bounds
	// the depth of directories too: at most 2,048 (below git's own
	// core.maxTreeDepth, 4,096).
	maxPathBytes = 4096
	// maxTreeEntryBytes is the largest tree entry whose name is within
	// maxNameBytes: a mode of six digits and a space, the name and its NUL,
	// a SHA-1. A tree of n bytes holds at least n/maxTreeEntryBytes entries.
	maxTreeEntryBytes = 7 + maxNameBytes + 1 + 20
)

// treeEntry is one entry of a decoded tree.
type treeEntry struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

// entry finds name in the tree h of the directory dir, by binary search.
func (f *gitFS) entry(dir string, h plumbing.Hash, name string) (treeEntry, bool, error) {
	entries, err := f.tree(dir, h)
	if err != nil {
		return treeEntry{}, false, err
	}
	i, ok := slices.BinarySearchFunc(entries, name, func(e treeEntry, name string) int {
		return strings.Compare(e.name, name)
	})
	if !ok {
		return treeEntry{}, false, nil
	}
	return entries[i], true, nil
}

// tree returns the entries of the tree h of the directory dir, sorted by
// name, decoding it the first time.
func (f *gitFS) tree(dir string, h plumbing.Hash) ([]treeEntry, error) {
	f.mu.Lock()
	entries, ok := f.trees[h]
	f.mu.Unlock()
	if ok {
		return entries, nil
	}
	if err := f.guard.alive(); err != nil {
		return nil, err
	}
	entries, err := f.decodeTree(dir, h)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.trees[h] = entries
	f.mu.Unlock()
	return entries, nil
}

// decodeTree reads the tree h within the bounds: its size, from the
// object's header, counts against the render's budget and must leave room
// for its entries under MaxTreeEntries before anything of it is read; then
// its entries are read one by one, each counted, each name checked.
func (f *gitFS) decodeTree(dir string, h plumbing.Hash) ([]treeEntry, error) {
	o, err := f.objects.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, fmt.Errorf("read the Git tree of %s: %w", whereDir(dir), err)
	}
	room := f.entriesLeft()
	if room >= 0 && o.Size() > int64(room)*maxTreeEntryBytes {
		return nil, f.guard.refuse(f.tooManyEntries(dir, "decoding"))
	}
	if err := f.guard.spend("the Git tree of "+whereDir(dir), o.Size(), f.opts.MaxRenderBytes); err != nil {
		return nil, err
	}
	r, err := o.Reader()
	if err != nil {
		return nil, fmt.Errorf("read the Git tree of %s: %w", whereDir(dir), err)
	}
	defer r.Close()
	br := bufio.NewReaderSize(r, 1024) // room for a mode and the longest name allowed
	var entries []treeEntry
	for {
		e, err := readTreeEntry(br)
		if errors.Is(err, io.EOF) {
			break
		}
		var bad badName
		if errors.As(err, &bad) {
			return nil, f.guard.refuse(fmt.Errorf("%s: %w", whereDir(dir), err))
		}
		if err != nil {
			return nil, fmt.Errorf("read the Git tree of %s: %w", whereDir(dir), err)
		}
		if room >= 0 && len(entries) >= room {
			return nil, f.guard.refuse(f.tooManyEntries(dir, "decoding"))
		}
		entries = append(entries, e)
	}
	f.mu.Lock()
	f.entries += len(entries)
	f.mu.Unlock()
	// Git sorts trees, but a crafted one need not be: lookups search.
	slices.SortStableFunc(entries, func(a, b treeEntry) int { return strings.Compare(a.name, b.name) })
	return entries, nil
}

// readTreeEntry reads one entry of a tree object: "MODE NAME\0" and a
// 20-byte hash. It returns io.EOF at the end, and a badName for a name a
// checkout cannot hold, read no further than maxNameBytes.
func readTreeEntry(r *bufio.Reader) (treeEntry, error) {
	mode, err := r.ReadSlice(' ')
	if errors.Is(err, io.EOF) && len(mode) == 0 {
		return treeEntry{}, io.EOF
	}
	if err != nil || len(mode) > 8 {
		return treeEntry{}, errors.New("malformed tree: bad mode")
	}
	m, err := filemode.New(string(mode[:len(mode)-1]))
	if err != nil {
		return treeEntry{}, errors.New("malformed tree: bad mode")
	}
	name, err := r.ReadSlice(0)
	if errors.Is(err, bufio.ErrBufferFull) || err == nil && len(name) > maxNameBytes+1 {
		return treeEntry{}, badName{name: string(name[:min(len(name), 40)]), long: true}
	}
	if err != nil {
		return treeEntry{}, errors.New("malformed tree: name without its end")
	}
	e := treeEntry{name: string(name[:len(name)-1]), mode: canonicalMode(m)}
	if e.name == "" || e.name == "." || e.name == ".." || strings.ContainsRune(e.name, '/') {
		return treeEntry{}, badName{name: e.name}
	}
	if _, err := io.ReadFull(r, e.hash[:]); err != nil {
		return treeEntry{}, errors.New("malformed tree: hash cut short")
	}
	return e, nil
}

// canonicalMode maps a tree entry's mode to one of Git's, as go-git's tree
// decoder does.
func canonicalMode(m filemode.FileMode) filemode.FileMode {
	switch m & 0o170000 {
	case 0o040000:
		return filemode.Dir
	case 0o100000:
		if m&0o111 != 0 {
			return filemode.Executable
		}
		return filemode.Regular
	case 0o120000:
		return filemode.Symlink
	}
	return filemode.Submodule
}

// badName is a tree entry's name no checkout can hold.
type badName struct {
	name string // the name, or its first bytes when long
	long bool
}

func (b badName) Error() string {
	if b.long {
		return fmt.Sprintf("the entry %q… has a name longer than %d bytes (NAME_MAX), which no checkout can hold: rename it", b.name, maxNameBytes)
	}
	return fmt.Sprintf("the entry %q is not a valid name (git fsck refuses it): remove it", b.name)
}

// entriesLeft returns how many more tree entries the render may go
// through, or -1 when they are not bounded.
func (f *gitFS) entriesLeft() int {
	if f.opts.MaxTreeEntries <= 0 {
		return -1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return max(f.opts.MaxTreeEntries-f.entries, 0)
}

// charge counts n tree entries of the directory dir, listed, against
// MaxTreeEntries.
func (f *gitFS) charge(dir string, n int) error {
	f.mu.Lock()
	f.entries += n
	over := f.opts.MaxTreeEntries > 0 && f.entries > f.opts.MaxTreeEntries
	f.mu.Unlock()
	if over {
		return f.guard.refuse(f.tooManyEntries(dir, "listing"))
	}
	return nil
}

// tooManyEntries is the refusal of a directory whose tree, decoded or
// listed, brings the render past MaxTreeEntries.
func (f *gitFS) tooManyEntries(dir, verb string) error {
	if dir == "." {
		return fmt.Errorf("the repository root: %s its Git tree brings this render to more than %d Git tree entries, and the root is decoded whatever path is rendered: move most of its entries into a subdirectory", verb, f.opts.MaxTreeEntries)
	}
	return fmt.Errorf("%s: %s its Git tree brings this render to more than %d Git tree entries (each directory decoded or listed counts its entries, a directory reached through several links each time): keep large directories out of the path rendered", display(dir), verb, f.opts.MaxTreeEntries)
}

// pathTooLong is the refusal of a path over maxPathBytes.
func pathTooLong(p string) error {
	return fmt.Errorf("%s…: a path longer than %d bytes (PATH_MAX), which no checkout can hold: shorten the names of its directories, or nest them less deep", p[:min(len(p), 60)], maxPathBytes)
}

// whereDir names a directory in errors.
func whereDir(dir string) string {
	if dir == "." {
		return "the repository root"
	}
	return display(dir)
}

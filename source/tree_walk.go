package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// child is one entry of a listed directory, resolved.
type child struct {
	name string
	node node
}

// list returns the entries of the directory n in name order, links
// resolved (escaping ones left out), each counted against MaxTreeEntries.
func (f *gitFS) list(n node) ([]child, error) {
	entries, err := f.tree(n.name, n.hash)
	if err != nil {
		return nil, err
	}
	if err := f.charge(n.name, len(entries)); err != nil {
		return nil, err
	}
	out := make([]child, 0, len(entries))
	for _, e := range entries {
		name := e.name
		if n.name != "." {
			name = n.name + "/" + e.name // names are checked: no "/", ".", ".."
		}
		if len(name) > maxPathBytes {
			return nil, f.guard.refuse(pathTooLong(name))
		}
		c := node{name: name, dir: e.mode == filemode.Dir, mode: e.mode, hash: e.hash}
		switch e.mode {
		case filemode.Submodule:
			continue
		case filemode.Symlink:
			c, err = f.lookup(name)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, child{name: e.name, node: c})
	}
	return out, nil // in name order: decoded trees are sorted
}

// ReadDir lists the names in directory p.
func (f *gitFS) ReadDir(p string) ([]string, error) {
	n, err := f.lookup(p)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, fmt.Errorf("read %s: not a directory", display(n.name))
	}
	children, err := f.list(n)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(children))
	for i, c := range children {
		names[i] = c.name
	}
	return names, nil
}

// Walk visits p and, for a directory, everything below it in lexical
// order, as filepath.Walk does. A directory reached again through a link
// below itself is not entered again.
func (f *gitFS) Walk(p string, fn filepath.WalkFunc) error {
	abs := path.Join("/", viewPath(p))
	n, err := f.lookup(p)
	if err != nil {
		return fn(abs, nil, err)
	}
	err = f.walk(abs, n, fn, map[plumbing.Hash]bool{})
	if errors.Is(err, filepath.SkipDir) || errors.Is(err, filepath.SkipAll) {
		return nil
	}
	return err
}

// walk visits abs and below. ancestors holds the trees of the directories
// being walked, to leave out a link to one of them; it is a set, so that a
// walk costs the same at any depth.
func (f *gitFS) walk(abs string, n node, fn filepath.WalkFunc, ancestors map[plumbing.Hash]bool) error {
	if err := fn(abs, f.info(path.Base(abs), n), nil); err != nil || !n.dir {
		return err
	}
	if ancestors[n.hash] {
		return nil
	}
	children, err := f.list(n)
	if err != nil {
		return fn(abs, f.info(path.Base(abs), n), err)
	}
	ancestors[n.hash] = true
	defer delete(ancestors, n.hash)
	for _, c := range children {
		err := f.walk(path.Join(abs, c.name), c.node, fn, ancestors)
		if errors.Is(err, filepath.SkipDir) {
			if !c.node.dir {
				return nil // SkipDir on a file skips the rest of its directory
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Glob returns the files matching pattern (filepath.Match syntax), sorted,
// hidden files only when the pattern asks for them: the in-memory file
// system's semantics, walking only the directory the pattern starts in.
func (f *gitFS) Glob(pattern string) ([]string, error) {
	start := "/"
	for _, part := range strings.Split(path.Clean("/"+pattern), "/")[1:] {
		if strings.ContainsAny(part, `*?[\`) {
			break
		}
		start = path.Join(start, part)
	}
	var matches []string
	err := f.Walk(start, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if info.IsDir() {
			return nil
		}
		ok, err := filepath.Match(pattern, p)
		if ok {
			matches = append(matches, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !filesys.IsHiddenFilePath(pattern) {
		matches = filesys.RemoveHiddenFiles(matches)
	}
	slices.Sort(matches)
	return matches, nil
}

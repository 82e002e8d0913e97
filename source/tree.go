package source

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// maxSymlinkHops bounds how many symlinks are followed to resolve one path.
const maxSymlinkHops = 8

// FileSystem returns an in-memory copy of the commit's tree, rooted at "/".
// Rendering reads only this copy, so nothing outside the committed tree (the
// rest of the disk, the working tree, uncommitted files) can leak into a
// revision. Symlinks are replaced by a copy of their target when the target
// is inside the repository and dropped otherwise; submodules are not fetched.
func (c *Commit) FileSystem() (filesys.FileSystem, error) {
	return treeFileSystem(c.tree, DefaultRenderOptions(), ".")
}

// treeFileSystem copies tree into memory, refusing what opts refuse: a file
// over MaxFileBytes under dir (the path rendered) is an error; one elsewhere
// is left out unread, so that a large asset somewhere in a repository does
// not stop its stacks; a symlink out of the repository is an error when
// RefuseEscapingSymlinks is set.
func treeFileSystem(tree *object.Tree, opts RenderOptions, dir string) (filesys.FileSystem, error) {
	fsys := filesys.MakeFsInMemory()
	files := map[string][]byte{}
	links := map[string]string{}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, entry, err := walker.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read tree: %w", err)
		}
		switch entry.Mode {
		case filemode.Dir:
			if err := fsys.MkdirAll("/" + name); err != nil {
				return nil, err
			}
			continue
		case filemode.Submodule:
			continue
		}
		blob, err := tree.TreeEntryFile(&entry)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if opts.MaxFileBytes > 0 && blob.Size > opts.MaxFileBytes {
			if dir == "." || name == dir || strings.HasPrefix(name, dir+"/") {
				return nil, fmt.Errorf("%s is %d bytes, over the limit of %d bytes for a rendered file: keep large files out of the path rendered", name, blob.Size, opts.MaxFileBytes)
			}
			continue
		}
		content, err := blob.Contents()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if entry.Mode == filemode.Symlink {
			links[name] = content
			continue
		}
		files[name] = []byte(content)
	}
	for name, content := range files {
		if err := fsys.WriteFile("/"+name, content); err != nil {
			return nil, fmt.Errorf("copy %s: %w", name, err)
		}
	}
	for name := range links {
		if opts.RefuseEscapingSymlinks {
			if _, ok := resolveLink(links, name); !ok {
				return nil, fmt.Errorf("%s is a symlink to %q, which leaves the repository (or loops): refused for this render", name, links[name])
			}
		}
		if err := copyLink(fsys, files, links, name); err != nil {
			return nil, err
		}
	}
	return fsys, nil
}

// copyLink materialises the symlink at name as a copy of its target file or
// directory, when the target resolves inside the repository.
func copyLink(fsys filesys.FileSystem, files map[string][]byte, links map[string]string, name string) error {
	target, ok := resolveLink(links, name)
	if !ok {
		return nil
	}
	if content, isFile := files[target]; isFile {
		return fsys.WriteFile("/"+name, content)
	}
	prefix := target + "/"
	if target == "." {
		prefix = ""
	}
	for file, content := range files {
		if !strings.HasPrefix(file, prefix) {
			continue
		}
		copied := path.Join(name, strings.TrimPrefix(file, prefix))
		if strings.HasPrefix(copied, prefix) && prefix != "" {
			continue // a link into its own subtree would recurse forever
		}
		if err := fsys.WriteFile("/"+copied, content); err != nil {
			return fmt.Errorf("copy %s: %w", copied, err)
		}
	}
	return nil
}

// resolveLink follows the symlink chain starting at name and returns the
// repository-relative target, or false when it leaves the repository, loops,
// or is too long.
func resolveLink(links map[string]string, name string) (string, bool) {
	cur := name
	for range maxSymlinkHops {
		target, isLink := links[cur]
		if !isLink {
			return cur, true
		}
		if path.IsAbs(target) {
			return "", false
		}
		cur = path.Join(path.Dir(cur), target)
		if cur == ".." || strings.HasPrefix(cur, "../") {
			return "", false
		}
	}
	return "", false
}

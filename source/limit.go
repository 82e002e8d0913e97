package source

import (
	"bytes"
	"fmt"
	"path"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// boundedFS is the file system every render reads through: each read
// counts against the render's total budget (MaxRenderBytes: the same file
// read twice counts twice), a file over MaxFileBytes is refused, and each
// YAML document read is measured (aliases, their expansion, nesting) before
// anything parses it for real. Refusals are kept in the guard, so that the
// render reports them even when kustomize retries a failed read another way.
type boundedFS struct {
	filesys.FileSystem
	opts  RenderOptions
	guard *guard
}

// newBoundedFS wraps fsys with the bounds of opts.
func newBoundedFS(fsys filesys.FileSystem, opts RenderOptions, g *guard) *boundedFS {
	return &boundedFS{FileSystem: fsys, opts: opts, guard: g}
}

// ReadFile reads p through the bounds.
func (b *boundedFS) ReadFile(p string) ([]byte, error) {
	data, err := b.FileSystem.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if b.opts.MaxFileBytes > 0 && int64(len(data)) > b.opts.MaxFileBytes {
		return nil, b.guard.refuse(fileTooLarge(viewPath(p), int64(len(data)), b.opts.MaxFileBytes))
	}
	if err := b.count(p, len(data)); err != nil {
		return nil, err
	}
	if b.opts.skipYAMLBounds {
		return data, nil
	}
	if err := checkYAML(display(viewPath(p)), data, yamlBounds{}); err != nil {
		return nil, b.guard.refuse(err)
	}
	return data, nil
}

// Open reads p through the bounds, as ReadFile.
func (b *boundedFS) Open(p string) (filesys.File, error) {
	data, err := b.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &readOnlyFile{Reader: bytes.NewReader(data), name: path.Base(viewPath(p))}, nil
}

// count adds n bytes read from p to the render's total.
func (b *boundedFS) count(p string, n int) error {
	b.guard.mu.Lock()
	b.guard.read += int64(n)
	total := b.guard.read
	b.guard.mu.Unlock()
	if limit := b.opts.MaxRenderBytes; limit > 0 && total > limit {
		return b.guard.refuse(fmt.Errorf("%s: reading it brings this render to %d bytes, over the limit of %d bytes a render may read (every read counts, the same file read twice counts twice): raise source.maxRenderBytes in gantry.yaml or --max-render-bytes, or render a smaller path",
			display(viewPath(p)), total, limit))
	}
	return nil
}

// bytesRead returns the bytes read so far.
func (g *guard) bytesRead() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.read
}

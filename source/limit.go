package source

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
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

	checkout string           // a temporary checkout's directory, whose paths errors name as the repository's
	tooLarge map[string]int64 // files of the checkout left empty for their size, by path
}

// newBoundedFS wraps fsys with the bounds of opts.
func newBoundedFS(fsys filesys.FileSystem, opts RenderOptions, g *guard) *boundedFS {
	return &boundedFS{FileSystem: fsys, opts: opts, guard: g}
}

// maxKustomizationReads bounds how many times a render reads a
// kustomization file: each kustomization is read twice (by the pre-check
// and by kustomize), so about a thousand kustomizations. A kustomization
// reached through many paths (links to its own directory, one Git tree
// under many names) is a new root to kustomize at each path: six entries
// over eight levels are 6^8 roots.
const maxKustomizationReads = 2000

// ReadFile reads p through the bounds.
func (b *boundedFS) ReadFile(p string) ([]byte, error) {
	if err := b.guard.alive(); err != nil {
		return nil, err
	}
	data, err := b.read(p)
	if err != nil {
		return nil, err
	}
	if err := b.count(p, len(data)); err != nil {
		return nil, err
	}
	if slices.Contains(konfig.RecognizedKustomizationFileNames(), path.Base(p)) {
		if err := b.guard.kustomization(display(viewPath(p))); err != nil {
			return nil, err
		}
	}
	if b.opts.skipYAMLBounds {
		return data, nil
	}
	name := display(viewPath(p))
	added, err := checkYAML(name, data)
	if err != nil {
		return nil, b.guard.refuse(err)
	}
	if added > 0 { // what the aliases add is read too, once kustomize expands them
		if err := b.guard.spend(name+" (its YAML aliases expanded)", added, b.opts.MaxRenderBytes); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// readRaw reads p through the bounds but the YAML checks: for files no YAML
// reader of the render parses (a chart's templates, which Helm executes,
// and its other files, which templates read as text).
func (b *boundedFS) readRaw(p string) ([]byte, error) {
	if err := b.guard.alive(); err != nil {
		return nil, err
	}
	data, err := b.read(p)
	if err != nil {
		return nil, err
	}
	return data, b.count(p, len(data))
}

// checkRendered bounds what a render made rather than read (a chart's
// templates' output): it is counted against MaxRenderBytes and checked for
// YAML bombs like any file read, as name.
func (b *boundedFS) checkRendered(name string, data []byte) error {
	if err := b.guard.alive(); err != nil {
		return err
	}
	if err := b.guard.spend(name, int64(len(data)), b.opts.MaxRenderBytes); err != nil {
		return err
	}
	if b.opts.skipYAMLBounds {
		return nil
	}
	added, err := checkYAML(name, data)
	if err != nil {
		return b.guard.refuse(err)
	}
	if added > 0 {
		return b.guard.spend(name+" (its YAML aliases expanded)", added, b.opts.MaxRenderBytes)
	}
	return nil
}

// read reads p, refusing a file over MaxFileBytes before its content is
// read: the commit's view checks its blobs' sizes itself; other file
// systems (a checkout on disk, kustomize's clones of remote bases, a
// caller's) are asked the size first, and read no further than the limit.
func (b *boundedFS) read(p string) ([]byte, error) {
	limit := b.opts.MaxFileBytes
	if size, ok := b.tooLarge[filepath.Clean(p)]; ok {
		return nil, b.guard.refuse(fileTooLarge(viewPath(p), size, limit))
	}
	if _, view := b.FileSystem.(*gitFS); view || limit <= 0 {
		return b.FileSystem.ReadFile(p)
	}
	f, err := b.FileSystem.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return b.FileSystem.ReadFile(p) // its own error
	}
	if st.Size() > limit {
		return nil, b.guard.refuse(fileTooLarge(viewPath(p), st.Size(), limit))
	}
	buf := bytes.NewBuffer(make([]byte, 0, st.Size()+1))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit { // it grew since
		return nil, b.guard.refuse(fileTooLarge(viewPath(p), int64(buf.Len()), limit))
	}
	return buf.Bytes(), nil
}

// rebase returns err with the paths of a temporary checkout in its text
// made the repository's ("app/x.yaml", not "/tmp/gantry-render-1/repo/app/x.yaml").
func (b *boundedFS) rebase(err error) error {
	if err == nil || b.checkout == "" {
		return err
	}
	rel := strings.TrimPrefix(b.checkout, "/")
	r := strings.NewReplacer(b.checkout+"/", "", rel+"/", "", b.checkout, ".", rel, ".")
	return &rewordedError{msg: r.Replace(err.Error()), err: err}
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
	return b.guard.spend(display(viewPath(p)), int64(n), b.opts.MaxRenderBytes)
}

// objectBytes is the share of a render's byte budget each object it
// produces takes: a render produces at most MaxRenderBytes/objectBytes
// objects (65,536 by default, 16,384 untrusted). An object costs memory
// out of proportion to its bytes (a 60-byte ConfigMap is kilobytes once
// decoded, sorted and hashed), so bytes alone do not bound a render's
// memory.
const objectBytes = 4096

// maxObjects returns how many objects a render with opts may produce, 0
// for no limit.
func maxObjects(opts RenderOptions) int {
	if opts.MaxRenderBytes <= 0 {
		return 0
	}
	return int(max(opts.MaxRenderBytes/objectBytes, 1))
}

// tooManyObjects is the refusal of a render past limit objects.
func tooManyObjects(limit int) error {
	return fmt.Errorf("more than %d objects (a render may produce one object per %d bytes it may read): raise source.maxRenderBytes in gantry.yaml or --max-render-bytes, or render a smaller path", limit, objectBytes)
}

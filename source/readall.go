package source

import (
	"runtime"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// maxReaders bounds the goroutines readAll reads a commit with.
const maxReaders = 4

// readAll reads paths of fsys with read, in order. A commit's view (a
// bounded gitFS of a cache directory) is read by up to maxReaders
// goroutines, each through a storage of its own (go-git's storage is not
// safe for concurrent reads), all under the render's one guard: a chart's
// hundred small files are inflated on every core instead of one. Any
// other file system is read in this goroutine. The first error, in path
// order, is returned.
func readAll(fsys filesys.FileSystem, paths []string, read func(filesys.FileSystem, string) ([]byte, error)) ([][]byte, error) {
	out := make([][]byte, len(paths))
	errs := make([]error, len(paths))
	workers := min(maxReaders, runtime.GOMAXPROCS(0), len(paths)/8)
	b, bounded := fsys.(*boundedFS)
	var view *gitFS
	if bounded {
		view, _ = b.FileSystem.(*gitFS)
	}
	if view == nil || view.dir == "" || workers < 2 {
		for i, p := range paths {
			if out[i], errs[i] = read(fsys, p); errs[i] != nil {
				return nil, errs[i]
			}
		}
		return out, nil
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fsys
			if w > 0 {
				st := renderStorage(view.dir)
				defer st.Close()
				v := newGitFS(withObjectCache(st, view.dir), view.root, view.opts, view.guard)
				v.dir = view.dir
				own = &boundedFS{FileSystem: v, opts: b.opts, guard: b.guard, checkout: b.checkout, tooLarge: b.tooLarge}
			}
			for i := w; i < len(paths); i += workers {
				out[i], errs[i] = read(own, paths[i])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

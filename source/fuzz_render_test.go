package source

import (
	"net/http"
	"os"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// FuzzKustomizeRender renders a small tree: a kustomization and a resource
// (also named as a patch, a generator file and a base's resource) of
// arbitrary content, in this process, confined as the sandbox is (no PATH,
// no HTTP). It never panics, never reads past its budget, and what it
// accepts are objects with a kind, an apiVersion and a name. Seeds are in
// testdata/fuzz/FuzzKustomizeRender; `go test` runs them, `go test -fuzz
// FuzzKustomizeRender ./source` explores.
func FuzzKustomizeRender(f *testing.F) {
	transport, path := http.DefaultTransport, os.Getenv("PATH")
	http.DefaultTransport = refuseTransport{}
	os.Setenv("PATH", "")
	f.Cleanup(func() {
		http.DefaultTransport = transport
		os.Setenv("PATH", path)
	})
	opts := DefaultRenderOptions()
	opts.MaxRenderBytes = 1 << 20
	f.Fuzz(func(t *testing.T, kustomization, resource []byte) {
		fsys := filesys.MakeFsInMemory()
		for p, content := range map[string][]byte{
			"/app/kustomization.yaml":  kustomization,
			"/app/r.yaml":              resource,
			"/base/kustomization.yaml": []byte("resources: [r.yaml]\n"),
			"/base/r.yaml":             resource,
		} {
			if err := fsys.WriteFile(p, content); err != nil {
				t.Fatal(err)
			}
		}
		g := &guard{}
		objs, err := render(newBoundedFS(fsys, opts, g), "/app", opts)
		if read := g.bytesRead(); read > opts.MaxRenderBytes+opts.MaxFileBytes {
			t.Errorf("read %d bytes with a budget of %d", read, opts.MaxRenderBytes)
		}
		if err != nil {
			return
		}
		for _, u := range objs {
			if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
				t.Errorf("accepted an object without kind, apiVersion or name: %v", u.Object)
			}
		}
	})
}

package source_test

import (
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/source"
)

// FuzzManifestDecoding renders arbitrary bytes as a manifest file: it never
// panics, and what it accepts are objects with a kind, an apiVersion and a
// name whose fields gantry reads have the right types (object.Validate). `go test` runs the seeds; `go test -fuzz FuzzManifestDecoding ./source` explores.
func FuzzManifestDecoding(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n",
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n",
		"---\n---\n# only comments\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   broken: indent\n",
		"- a list\n- of strings\n",
		"apiVersion: v1\nkind: List\nitems: [1, 2]\n",
		"{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"s\"}, \"data\": {\"k\": \"!!\"}}",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"&a [*a]",
		"kind: [\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {version: 2}}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {a: null}}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: 1, k: 2}\n",
		"apiVersion: v1\nkind: List\nitems: {a: b}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: [1]\n",
		"apiVersion: 1\nkind: true\nmetadata: {name: [x]}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := filesys.MakeFsInMemory()
		if err := fsys.WriteFile("/m/in.yaml", data); err != nil {
			t.Fatal(err)
		}
		objs, err := source.Render(fsys, "/m", source.DefaultRenderOptions())
		if err != nil {
			return
		}
		for _, u := range objs {
			if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
				t.Errorf("accepted an object without kind, apiVersion or name: %v", u.Object)
			}
			if err := object.Validate(u); err != nil {
				t.Errorf("accepted an object Validate refuses (%v): %v", err, u.Object)
			}
		}
	})
}

package source_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/source"
)

// TestRenderRefusesWhatKubectlRefuses: content that kubectl (or the API
// server behind it) refuses, or that gantry would read silently wrong, is
// refused at render, naming the file and line (for kustomize output, the
// kustomization and the object) and the field.
func TestRenderRefusesWhatKubectlRefuses(t *testing.T) {
	t.Parallel()
	const head = "apiVersion: v1\nkind: ConfigMap\n"
	for _, tc := range []struct {
		name  string
		files map[string]string // under /m
		want  []string
	}{
		{"a label that is a number", map[string]string{"cm.yaml": head + "metadata:\n  name: a\n  labels: {app: web, version: 2}\n"},
			[]string{"m/cm.yaml:1", "metadata.labels.version must be a string, found the number 2", `"2"`}},
		{"a label that is a boolean", map[string]string{"cm.yaml": "# first\n" + head + "metadata:\n  name: a\n  labels:\n    canary: true\n"},
			[]string{"m/cm.yaml:2", "metadata.labels.canary must be a string, found the boolean true", "quote the value"}},
		{"a label without a value", map[string]string{"cm.yaml": head + "metadata:\n  name: a\n  labels:\n    app:\n"},
			[]string{"m/cm.yaml:1", "metadata.labels.app has no value"}},
		{"an annotation that is a number, in the second document", map[string]string{"cm.yaml": head + "metadata: {name: a}\n---\n" + head + "metadata:\n  name: b\n  annotations: {replicas: 3}\n"},
			[]string{"m/cm.yaml:5", "metadata.annotations.replicas must be a string"}},
		{"labels that are a list", map[string]string{"cm.yaml": head + "metadata:\n  name: a\n  labels: [app]\n"},
			[]string{"m/cm.yaml:1", "metadata.labels must be a mapping of strings, found a list"}},
		{"a name that is a number", map[string]string{"cm.yaml": head + "metadata: {name: 42}\n"},
			[]string{"m/cm.yaml:1", "metadata.name must be a string, found the number 42"}},
		{"a namespace that is a mapping", map[string]string{"cm.yaml": head + "metadata: {name: a, namespace: {x: z}}\n"},
			[]string{"m/cm.yaml:1", "metadata.namespace must be a string, found a mapping"}},
		{"a kind that is a number", map[string]string{"cm.yaml": "apiVersion: v1\nkind: 7\nmetadata: {name: a}\n"},
			[]string{"m/cm.yaml:1", "kind must be a string, found the number 7"}},
		{"an apiVersion that is a list", map[string]string{"cm.yaml": "apiVersion: [v1]\nkind: ConfigMap\nmetadata: {name: a}\n"},
			[]string{"m/cm.yaml:1", "apiVersion must be a string, found a list"}},
		{"an apiVersion that is no group/version", map[string]string{"cm.yaml": "apiVersion: a/b/c\nkind: ConfigMap\nmetadata: {name: a}\n"},
			[]string{"m/cm.yaml:1", `apiVersion "a/b/c" is not a group/version`}},
		{"metadata that is a string", map[string]string{"cm.yaml": head + "metadata: a\n"},
			[]string{"m/cm.yaml:1", "metadata must be a mapping, found a string"}},
		{"a misspelt metadata field", map[string]string{"cm.yaml": head + "metadata:\n  name: a\n  lables: {app: web}\n"},
			[]string{"m/cm.yaml:1", "metadata.lables: unknown field", "check its spelling"}},
		{"finalizers that are not strings", map[string]string{"cm.yaml": head + "metadata: {name: a, finalizers: [1]}\n"},
			[]string{"m/cm.yaml:1", "metadata.finalizers[0] must be a string"}},
		{"an owner reference of the wrong shape", map[string]string{"cm.yaml": head + "metadata: {name: a, ownerReferences: [{apiVersion: v1, kind: X, name: z, uid: 5}]}\n"},
			[]string{"m/cm.yaml:1", "metadata.ownerReferences[0].uid must be a string"}},
		{"a generation that is a string", map[string]string{"cm.yaml": head + "metadata: {name: a, generation: one}\n"},
			[]string{"m/cm.yaml:1", "metadata.generation must be an integer, found a string"}},
		{"ConfigMap data that is a number", map[string]string{"cm.yaml": head + "metadata: {name: a}\ndata: {port: 8080}\n"},
			[]string{"m/cm.yaml:1", "data.port must be a string, found the number 8080"}},
		{"Secret data that is a string", map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: c2VjcmV0\n"},
			[]string{"m/s.yaml:1", "data must be a mapping of strings, found a string"}},
		{"Secret stringData that is a number", map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {PIN: 918273}\n"},
			[]string{"m/s.yaml:1", "stringData.PIN must be a string, found the number"}},
		{"a key twice", map[string]string{"cm.yaml": head + "metadata: {name: a}\ndata:\n  k: one\n  k: two\n"},
			[]string{"m/cm.yaml", "line 6", `key "k" appears twice`, "the API server refuses duplicate fields"}},
		{"a key twice in the second document", map[string]string{"cm.yaml": head + "metadata: {name: a}\n---\n" + head + "metadata:\n  name: b\n  name: c\n"},
			[]string{"m/cm.yaml", "line 9", `key "name" appears twice`}},
		{"a List whose items are not a list", map[string]string{"l.yaml": "apiVersion: v1\nkind: List\nitems: {a: b}\n"},
			[]string{"m/l.yaml:1", "List: items must be a list of objects, found a mapping"}},
		{"a List item with a label that is a number", map[string]string{"l.yaml": "apiVersion: v1\nkind: ConfigMapList\nitems:\n- " + strings.ReplaceAll(head, "\n", "\n  ") + "metadata: {name: a, labels: {v: 2}}\n"},
			[]string{"m/l.yaml:1", "ConfigMapList items[0]", "metadata.labels.v must be a string"}},
		{"kustomize: a resource's label that is a number", map[string]string{
			"kustomization.yaml": "resources: [cm.yaml]\n",
			"cm.yaml":            head + "metadata:\n  name: a\n  labels: {version: 2}\n"},
			[]string{"kustomize build m", "ConfigMap", "metadata.labels.version must be a string"}},
		{"kustomize: a key twice in a resource", map[string]string{
			"kustomization.yaml": "resources: [cm.yaml]\n",
			"cm.yaml":            head + "metadata: {name: a}\ndata:\n  k: one\n  k: two\n"},
			[]string{"kustomize build m", "m/cm.yaml:6", `key "k" appears twice`}},
		{"kustomize: commonLabels with a number", map[string]string{
			"kustomization.yaml": "resources: [cm.yaml]\ncommonLabels: {version: 2}\n",
			"cm.yaml":            head + "metadata: {name: a}\n"},
			[]string{"kustomize build m", "commonLabels"}},
		{"kustomize: labels pairs with a boolean", map[string]string{
			"kustomization.yaml": "resources: [cm.yaml]\nlabels:\n- pairs: {canary: true}\n",
			"cm.yaml":            head + "metadata: {name: a}\n"},
			[]string{"kustomize build m", "labels.pairs"}},
		{"kustomize: a function config hiding its annotation behind a number", map[string]string{
			"kustomization.yaml": "resources: [cm.yaml]\ntransformers: [fn.yaml]\n",
			"cm.yaml":            head + "metadata: {name: a}\n",
			"fn.yaml": "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: t\n  annotations:\n    config.kubernetes.io/function: |\n      exec: {path: ./fn.sh}\n    x: 1\n" +
				"labels: {a: b}\nfieldSpecs: [{path: metadata/labels, create: true}]\n"},
			[]string{"m/fn.yaml:1", "LabelTransformer \"t\" is an external kustomize plugin"}}, // the pre-check reads the annotation whatever its siblings hold
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := filesys.MakeFsInMemory()
			for name, content := range tc.files {
				if err := fsys.WriteFile("/m/"+name, []byte(content)); err != nil {
					t.Fatal(err)
				}
			}
			objs, err := source.Render(fsys, "/m", source.DefaultRenderOptions())
			if err == nil {
				var got []any
				for _, u := range objs {
					got = append(got, u.Object)
				}
				t.Fatalf("rendered %v, want an error", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

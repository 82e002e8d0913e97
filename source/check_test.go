package source

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// referenceForms are the ways an entry can name a location, and whether
// kustomize fetches each when it loads a root (resources, components...:
// git clone or http GET) and when it loads a file (patches, generator
// files...: http GET only).
var referenceForms = []struct {
	entry      string
	root, file bool
}{
	{"github.com/org/repo", true, false},
	{"github.com/org/repo//sub?ref=v1", true, false},
	{"gitlab.com/org/repo.git", false, false}, // kustomize reads it as a local path
	{"https://gitlab.com/org/repo.git", true, true},
	{"me@gitserver:org/repo", true, false},
	{"git@github.com:org/repo.git//base", true, false},
	{"git::https://example.com/org/repo.git", true, false}, // no URL to http: a local path
	{"ssh://git@host/org/repo", true, false},
	{"https://example.com/x.yaml", true, true},
	{"http://127.0.0.1:8080/x.yaml", true, true},
	{"https://github.com/org/repo?ref=v1", true, true},
	{"https://dev.azure.com/org/_git/repo", true, true},
	{"file:///srv/repo//base?ref=main", true, false},
	{"base", false, false},
	{"../base", false, false},
	{"cm.yaml", false, false},
	{"example.com/a/b", false, false},
}

func TestRemote(t *testing.T) {
	for _, f := range referenceForms {
		if got := remote(f.entry, loadsRoot); got != f.root {
			t.Errorf("remote(%q, root) = %v, want %v", f.entry, got, f.root)
		}
		if got := remote(f.entry, loadsFile); got != f.file {
			t.Errorf("remote(%q, file) = %v, want %v", f.entry, got, f.file)
		}
	}
}

// loadingFields put an entry into each field that loads content, directly
// in a kustomization or in a builtin generator/transformer config. root
// says the entry is loaded as a root (and so cloned when it is a Git
// address); field is what the error must name.
var loadingFields = []struct {
	field string
	root  bool
	files func(e string) map[string]string
	// fileSource: kustomize reads the entry as key=path (an entry with two
	// '=' is an error, one with one is a key and a local path).
	fileSource bool
}{
	{"resources[0]", true, kust("resources: [%q]"), false},
	{"bases[0]", true, kust("bases: [%q]"), false},
	{"components[0]", true, kust("components: [%q]"), false},
	{"generators[0]", true, kust("generators: [%q]"), false},
	{"transformers[0]", true, kust("transformers: [%q]"), false},
	{"validators[0]", true, kust("validators: [%q]"), false},
	{"crds[0]", false, kust("crds: [%q]"), false},
	{"configurations[0]", false, kust("configurations: [%q]"), false},
	{"openapi.path[0]", false, kust("openapi: {path: %q}"), false},
	{"patches[0]", false, kust("patches: [{path: %q}]"), false},
	{"patchesStrategicMerge[0]", false, kust("patchesStrategicMerge: [%q]"), false},
	{"patchesJson6902[0]", false, kust("patchesJson6902: [{path: %q, target: {kind: ConfigMap, name: a}}]"), false},
	{"replacements[0]", false, kust("replacements: [{path: %q}]"), false},
	{"configMapGenerator[0].files[0]", false, kust("configMapGenerator: [{name: a, files: [%q]}]"), true},
	{"configMapGenerator[0].files[0]", false, kust("configMapGenerator: [{name: a, files: [\"key=\" + %q]}]"), true},
	{"configMapGenerator[1].envs[0]", false, kust("configMapGenerator: [{name: a}, {name: b, envs: [%q]}]"), false},
	{"configMapGenerator[0].env[0]", false, kust("configMapGenerator: [{name: a, env: %q}]"), false},
	{"secretGenerator[0].files[0]", false, kust("secretGenerator: [{name: a, files: [%q]}]"), true},
	{"PatchTransformer \"c\" path", false, pluginConfig("transformers", "kind: PatchTransformer\npath: %q\n"), false},
	{"PatchJson6902Transformer \"c\" path", false, pluginConfig("transformers", "kind: PatchJson6902Transformer\npath: %q\n"), false},
	{"PatchStrategicMergeTransformer \"c\" paths", false, pluginConfig("transformers", "kind: PatchStrategicMergeTransformer\npaths: [%q]\n"), false},
	{"ValueAddTransformer \"c\" targetFilePath", false, pluginConfig("transformers", "kind: ValueAddTransformer\ntargetFilePath: %q\n"), false},
	{"ReplacementTransformer \"c\" replacements.path", false, pluginConfig("transformers", "kind: ReplacementTransformer\nreplacements: [{path: %q}]\n"), false},
	{"ConfigMapGenerator \"c\" files", false, pluginConfig("generators", "kind: ConfigMapGenerator\nfiles: [%q]\n"), true},
	{"ConfigMapGenerator \"c\" envs", false, pluginConfig("generators", "kind: ConfigMapGenerator\nenvs: [%q]\n"), false},
	{"SecretGenerator \"c\" env", false, pluginConfig("generators", "kind: SecretGenerator\nenv: %q\n"), false},
	{"inline transformers:1: PatchTransformer \"c\" path", false, inline("transformers", "kind: PatchTransformer\npath: %q\n"), false},
	{"inline generators:1: ConfigMapGenerator \"c\" files", false, flowInline("generators", "kind: ConfigMapGenerator, files: [%q]"), true},
}

func kust(format string) func(string) map[string]string {
	return func(e string) map[string]string {
		if strings.Contains(format, `"key=" + %q`) {
			return map[string]string{"/app/kustomization.yaml": strings.Replace(format, `"key=" + %q`, quote("key="+e), 1) + "\n"}
		}
		return map[string]string{"/app/kustomization.yaml": strings.Replace(format, "%q", quote(e), 1) + "\n"}
	}
}

func pluginConfig(field, body string) func(string) map[string]string {
	return func(e string) map[string]string {
		return map[string]string{
			"/app/kustomization.yaml": field + ": [c.yaml]\n",
			"/app/c.yaml":             "apiVersion: builtin\nmetadata: {name: c}\n" + strings.Replace(body, "%q", quote(e), 1),
		}
	}
}

func inline(field, body string) func(string) map[string]string {
	return func(e string) map[string]string {
		doc := "apiVersion: builtin\nmetadata: {name: c}\n" + strings.Replace(body, "%q", quote(e), 1)
		return map[string]string{"/app/kustomization.yaml": field + ":\n- |\n  " + strings.ReplaceAll(strings.TrimSpace(doc), "\n", "\n  ") + "\n"}
	}
}

// flowInline writes the config as one line of flow YAML.
func flowInline(field, body string) func(string) map[string]string {
	return func(e string) map[string]string {
		doc := "{apiVersion: builtin, metadata: {name: c}, " + strings.Replace(body, "%q", quote(e), 1) + "}"
		return map[string]string{"/app/kustomization.yaml": field + ":\n- '" + doc + "'\n"}
	}
}

func quote(s string) string { return `"` + s + `"` }

// TestCheckKustomizationNamesEveryRemoteEntry runs the pre-check on every
// reference form in every field that loads content: it refuses exactly what
// kustomize would fetch, naming the file, the field and the entry, also
// when the repository holds a directory of the same name.
func TestCheckKustomizationNamesEveryRemoteEntry(t *testing.T) {
	for _, f := range loadingFields {
		for _, form := range referenceForms {
			want := (form.file || f.root && form.root) && !(f.fileSource && strings.Contains(form.entry, "="))
			t.Run(f.field+"/"+form.entry, func(t *testing.T) {
				fsys := filesys.MakeFsInMemory()
				files := f.files(form.entry)
				files["/app/github.com/org/repo/kustomization.yaml"] = "resources: []\n" // a local look-alike
				for p, content := range files {
					if err := fsys.WriteFile(p, []byte(content)); err != nil {
						t.Fatal(err)
					}
				}
				err := checkKustomization(fsys, "/app", DefaultRenderOptions(), map[string]bool{})
				if !want {
					if err != nil && strings.Contains(err.Error(), "remote location") {
						t.Fatalf("refused %q, which kustomize reads locally: %v", form.entry, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("%q passed, but kustomize fetches it", form.entry)
				}
				for _, w := range []string{"app/", f.field, form.entry, "remote bases are disabled"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				allowed := DefaultRenderOptions()
				allowed.AllowRemoteBases = true
				if err := checkKustomization(fsys, "/app", allowed, map[string]bool{}); err != nil && strings.Contains(err.Error(), "remote location") {
					t.Errorf("refused with remote bases allowed: %v", err)
				}
			})
		}
	}
}

func TestCheckKustomizationRefusesHelm(t *testing.T) {
	for name, k := range map[string]string{
		"helmCharts":                  "helmCharts:\n- name: x\n  repo: https://charts.example.com\n",
		"helmChartInflationGenerator": "helmChartInflationGenerator:\n- chartName: x\n  chartRepoUrl: https://charts.example.com\n",
		"helmGlobals":                 "helmGlobals: {chartHome: charts}\n",
	} {
		t.Run(name, func(t *testing.T) {
			fsys := filesys.MakeFsInMemory()
			if err := fsys.WriteFile("/app/kustomization.yaml", []byte(k)); err != nil {
				t.Fatal(err)
			}
			err := checkKustomization(fsys, "/app", DefaultRenderOptions(), map[string]bool{})
			if err == nil || !strings.Contains(err.Error(), "helm disabled") || !strings.Contains(err.Error(), "app/kustomization.yaml") {
				t.Fatalf("err = %v, want a refusal naming the file and helm", err)
			}
		})
	}
	fsys := filesys.MakeFsInMemory()
	_ = fsys.WriteFile("/app/kustomization.yaml", []byte("generators: [h.yaml]\n"))
	_ = fsys.WriteFile("/app/h.yaml", []byte("apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata: {name: h}\nchartName: x\n"))
	err := checkKustomization(fsys, "/app", DefaultRenderOptions(), map[string]bool{})
	if err == nil || !strings.Contains(err.Error(), "app/h.yaml:1") || !strings.Contains(err.Error(), "helm disabled") {
		t.Fatalf("HelmChartInflationGenerator config: err = %v, want a refusal naming the file", err)
	}
}

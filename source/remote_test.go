package source_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/source"
)

// noFetchWitness is a loopback HTTP server that counts the requests it is
// sent and a fake `git` first on PATH that records each time it runs: a
// render that fetches anything leaves a trace in one or the other.
type noFetchWitness struct {
	url      string
	requests atomic.Int64
	gitRuns  string // file the fake git appends its arguments to
}

func newNoFetchWitness(t *testing.T) *noFetchWitness {
	t.Helper()
	w := &noFetchWitness{gitRuns: filepath.Join(t.TempDir(), "git-runs")}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Add(1)
		rw.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fetched}\n"))
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

// arm puts the fake git first on PATH. Call it after the test's own git
// commands (gittest runs the real git from PATH).
func (w *noFetchWitness) arm(t *testing.T) {
	t.Helper()
	bin := t.TempDir()
	script := "#!/bin/sh\necho \"$@\" >> " + w.gitRuns + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// check fails the test when anything was fetched.
func (w *noFetchWitness) check(t *testing.T) {
	t.Helper()
	if n := w.requests.Load(); n != 0 {
		t.Errorf("the render sent %d HTTP requests to %s, want none", n, w.url)
	}
	if runs, err := os.ReadFile(w.gitRuns); err == nil {
		t.Errorf("the render ran git:\n%s", runs)
	}
}

// remoteCases are kustomizations that name a remote location in a field
// whose loading today's pre-check did not understand: git forms kustomize
// clones (a host-like first segment that exists as a local directory, an
// scp-like address with a dotless host) and http(s) paths inside builtin
// plugin configs.
func remoteCases(w *noFetchWitness) map[string]map[string]string {
	patch := "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: " + w.url + "/patch.yaml\ntarget: {kind: ConfigMap}\n"
	return map[string]map[string]string{
		"github.com form with a local github.com directory": {
			"app/kustomization.yaml":                     "resources:\n- cm.yaml\n- github.com/org/repo\n",
			"app/cm.yaml":                                configMap("local", "1"),
			"app/github.com/org/repo/kustomization.yaml": "resources: []\n",
		},
		"scp-like address with a dotless host": {
			"app/kustomization.yaml": "resources:\n- cm.yaml\n- me@gitserver:org/repo//base?ref=v1\n",
			"app/cm.yaml":            configMap("local", "1"),
		},
		"http path in a PatchTransformer config": {
			"app/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [patch.yaml]\n",
			"app/cm.yaml":            configMap("local", "1"),
			"app/patch.yaml":         patch,
		},
		"http path in an inline transformer": {
			"app/kustomization.yaml": "resources: [cm.yaml]\ntransformers:\n- |\n  " + strings.ReplaceAll(strings.TrimSpace(patch), "\n", "\n  ") + "\n",
			"app/cm.yaml":            configMap("local", "1"),
		},
		"http file in a ConfigMapGenerator config": {
			"app/kustomization.yaml": "generators: [gen.yaml]\n",
			"app/gen.yaml":           "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: g}\nfiles:\n- " + w.url + "/data\n",
		},
		"http path in a ValueAddTransformer config": {
			"app/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [va.yaml]\n",
			"app/cm.yaml":            configMap("local", "1"),
			"app/va.yaml":            "apiVersion: builtin\nkind: ValueAddTransformer\nmetadata: {name: v}\nvalue: x\ntargetFilePath: " + w.url + "/t\ntargets:\n- selector: {kind: ConfigMap}\n  fieldPath: data/x\n",
		},
		"http git URL in a component of a base": {
			"app/kustomization.yaml":  "resources: [../base]\n",
			"base/kustomization.yaml": "components:\n- " + w.url + "/org/repo.git//c\n",
		},
	}
}

// TestRenderCannotFetch renders kustomizations naming remote locations with
// remote bases off: each is refused naming the file, and no render runs
// git or sends a request, whatever the form of the reference.
func TestRenderCannotFetch(t *testing.T) {
	w := newNoFetchWitness(t)
	commits := map[string]*source.Commit{}
	for name, files := range remoteCases(w) {
		commits[name] = commitAndFetch(t, files)
	}
	w.arm(t)
	for name, c := range commits {
		t.Run(name, func(t *testing.T) {
			rev, err := c.Render(context.Background(), "app", source.DefaultRenderOptions())
			if err == nil {
				t.Fatalf("rendered %d objects, want a refusal", len(rev.Objects))
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), "remote") {
				t.Errorf("error %q does not say what was refused", err)
			}
		})
	}
	w.check(t)
}

// TestRenderSandboxAloneCannotFetch renders the same kustomizations with
// the pre-check off, as if it had missed every one of them: kustomize
// itself then tries to clone and to fetch, and nothing leaves the sandbox
// (no PATH, so no git; no HTTP transport; no network namespace).
func TestRenderSandboxAloneCannotFetch(t *testing.T) {
	w := newNoFetchWitness(t)
	commits := map[string]*source.Commit{}
	for name, files := range remoteCases(w) {
		commits[name] = commitAndFetch(t, files)
	}
	w.arm(t)
	for name, c := range commits {
		t.Run(name, func(t *testing.T) {
			rev, err := c.Render(context.Background(), "app", source.WithoutPreCheck(source.DefaultRenderOptions()))
			if err == nil {
				t.Fatalf("rendered %d objects, want kustomize's failure to fetch", len(rev.Objects))
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error(), "remote bases are disabled: vendor") {
				t.Errorf("the pre-check ran: %v", err)
			}
		})
	}
	w.check(t)
}

// TestPreCheckReadsConfigsWhateverTheirTypes renders, in this process
// (Render: the pre-check is the only guard), builtin configs naming remote
// files whose other fields gantry's own decoder refuses (a label or an
// annotation that is a number, a list of paths holding a number): the
// pre-check reads the fields that load files whatever the rest holds, and
// refuses them; nothing is fetched.
func TestPreCheckReadsConfigsWhateverTheirTypes(t *testing.T) {
	w := newNoFetchWitness(t)
	cm := configMap("local", "1")
	inline := func(field, config string) string {
		return field + ":\n- |\n  " + strings.ReplaceAll(strings.TrimSpace(config), "\n", "\n  ") + "\n"
	}
	patch := "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p, labels: {version: 2}}\npath: " + w.url + "/patch.yaml\ntarget: {kind: ConfigMap}\n"
	gen := "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: g, annotations: {a: 1}}\nfiles: [" + w.url + "/data]\n"
	smp := "apiVersion: builtin\nkind: PatchStrategicMergeTransformer\nmetadata: {name: s}\npaths: [3, " + w.url + "/p.yaml]\n"
	cases := map[string]map[string]string{
		"inline PatchTransformer with a number for a label": {
			"app/kustomization.yaml": "resources: [cm.yaml]\n" + inline("transformers", patch),
			"app/cm.yaml":            cm,
		},
		"inline ConfigMapGenerator with a number for an annotation": {
			"app/kustomization.yaml": inline("generators", gen),
		},
		"PatchTransformer file with a number for a label": {
			"app/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [patch.yaml]\n",
			"app/cm.yaml":            cm,
			"app/patch.yaml":         patch,
		},
		"PatchStrategicMergeTransformer with a number among its paths": {
			"app/kustomization.yaml": "resources: [cm.yaml]\n" + inline("transformers", smp),
			"app/cm.yaml":            cm,
		},
	}
	w.arm(t)
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			fsys := filesys.MakeFsInMemory()
			for p, content := range files {
				if err := fsys.WriteFile("/"+p, []byte(content)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := source.Render(fsys, "/app", source.DefaultRenderOptions())
			if err == nil || !strings.Contains(err.Error(), "remote bases are disabled") || !strings.Contains(err.Error(), "app/kustomization.yaml") {
				t.Errorf("err = %v, want the remote path refused by the pre-check", err)
			}
		})
	}
	w.check(t)
}

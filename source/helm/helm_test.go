package helm_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/source/helm"
)

// chartDir is a chart of the corpus.
func chartDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "corpus", "charts", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		t.Fatalf("corpus chart %s missing: %v", name, err)
	}
	return dir
}

// loadFiles reads a chart directory into Load's files, as source reads a
// commit's (.helmignore aside: the corpus charts' ignore nothing the
// templates need).
func loadFiles(t testing.TB, dir string) *chartv2.Chart {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, ".") {
			return nil
		}
		data, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := helm.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// helmTemplate renders dir as `helm template --include-crds` does, with
// the Helm SDK's own install action in client-only dry-run, and returns
// every document but tests' (hooks included) as canonical JSON, sorted.
// Tests are left out on both sides: gantry never applies them, and
// podinfo's carry names made by randAlphaNum, different at each render.
func helmTemplate(t testing.TB, dir string, opts helm.Options) []string {
	t.Helper()
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	caps, err := helm.Capabilities(opts)
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRunStrategy, inst.Replace, inst.IncludeCRDs = action.DryRunClient, true, true
	inst.ReleaseName, inst.Namespace = opts.ReleaseName, opts.Namespace
	inst.KubeVersion, inst.APIVersions = &caps.KubeVersion, common.VersionSet(opts.APIVersions)
	r, err := inst.RunWithContext(context.Background(), ch, helm.MergeValues(opts.Values...))
	if err != nil {
		t.Fatalf("helm template %s: %v", dir, err)
	}
	rel := r.(*release.Release)
	texts := []string{rel.Manifest}
	for _, h := range rel.Hooks {
		if !isTest(h.Events) {
			texts = append(texts, h.Manifest)
		}
	}
	return documents(t, texts...)
}

func isTest(events []release.HookEvent) bool {
	return len(events) == 1 && events[0] == release.HookTest
}

// rendered is Render's output as documents, the same way.
func rendered(t testing.TB, out *helm.Output) []string {
	t.Helper()
	var texts []string
	for _, f := range append(append([]helm.File{}, out.CRDs...), out.Manifests...) {
		texts = append(texts, f.Content)
	}
	for _, h := range out.Hooks {
		if !h.IsTest() {
			texts = append(texts, h.Content)
		}
	}
	return documents(t, texts...)
}

func documents(t testing.TB, texts ...string) []string {
	t.Helper()
	var out []string
	for _, text := range texts {
		for _, doc := range releaseutil.SplitManifests(text) {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatalf("%v in\n%s", err, doc)
			}
			if len(m) == 0 {
				continue
			}
			js, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(js))
		}
	}
	slices.Sort(out)
	return out
}

// TestRenderMatchesHelmTemplate: for each corpus chart, with its default
// values and others, Render gives exactly the documents the Helm SDK's
// `helm template --include-crds` gives with the same values (a row per
// chart and values).
func TestRenderMatchesHelmTemplate(t *testing.T) {
	t.Parallel()
	prod, err := os.ReadFile(filepath.Join(chartDir(t, "podinfo"), "values-prod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	prodValues, err := common.ReadValues(prod)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		chart  string
		values []map[string]any
		docs   int // at least
	}{
		{"podinfo", nil, 2},
		{"podinfo", []map[string]any{prodValues}, 6},
		{"podinfo", []map[string]any{prodValues, {"replicaCount": 3, "hpa": map[string]any{"enabled": false}}}, 5},
		{"ingress-nginx", nil, 18},
		{"ingress-nginx", []map[string]any{{"controller": map[string]any{"kind": "DaemonSet", "admissionWebhooks": map[string]any{"enabled": false}}}}, 9},
		{"cert-manager", nil, 44},
		{"cert-manager", []map[string]any{{"crds": map[string]any{"enabled": true}}}, 50},
	} {
		opts := helm.Options{ReleaseName: "rel", Namespace: "apps", Values: tc.values, APIVersions: []string{"monitoring.coreos.com/v1"}}
		out, err := helm.Render(context.Background(), loadFiles(t, chartDir(t, tc.chart)), opts)
		if err != nil {
			t.Fatalf("%s %v: %v", tc.chart, tc.values, err)
		}
		got, want := rendered(t, out), helmTemplate(t, chartDir(t, tc.chart), opts)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s with %d values layers: (-helm template +gantry)\n%s", tc.chart, len(tc.values), diff)
		}
		t.Logf("%s, %d values layers: %d documents, %d hooks", tc.chart, len(tc.values), len(got), len(out.Hooks))
		if len(got) < tc.docs {
			t.Errorf("%s: %d documents, want at least %d: the comparison checks too little", tc.chart, len(got), tc.docs)
		}
	}
}

func TestMergeValues(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		layers []map[string]any
		want   map[string]any
	}{
		"none":                    {nil, map[string]any{}},
		"later wins":              {[]map[string]any{{"a": 1, "b": 1}, {"b": 2}}, map[string]any{"a": 1, "b": 2}},
		"maps merge":              {[]map[string]any{{"m": map[string]any{"x": 1, "y": 1}}, {"m": map[string]any{"y": 2}}}, map[string]any{"m": map[string]any{"x": 1, "y": 2}}},
		"a map replaces":          {[]map[string]any{{"m": 1}, {"m": map[string]any{"y": 2}}}, map[string]any{"m": map[string]any{"y": 2}}},
		"a scalar replaces a map": {[]map[string]any{{"m": map[string]any{"y": 2}}, {"m": "off"}}, map[string]any{"m": "off"}},
		"lists replace":           {[]map[string]any{{"l": []any{1, 2}}, {"l": []any{3}}}, map[string]any{"l": []any{3}}},
		"null is kept (it removes a chart default)": {[]map[string]any{{"a": 1}, {"a": nil}}, map[string]any{"a": nil}},
	} {
		if diff := cmp.Diff(tc.want, helm.MergeValues(tc.layers...)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", name, diff)
		}
	}
}

// TestHookIsTest: only hooks whose every event is "test" are test hooks.
func TestHookIsTest(t *testing.T) {
	t.Parallel()
	for events, want := range map[string]bool{"test": true, "test,post-install": false, "pre-install": false, "": false} {
		var h helm.Hook
		if events != "" {
			h.Events = strings.Split(events, ",")
		}
		if h.IsTest() != want {
			t.Errorf("events %q: IsTest = %t", events, h.IsTest())
		}
	}
}

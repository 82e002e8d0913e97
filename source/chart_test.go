package source_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/source"
)

// chartFiles are a corpus chart's files under prefix, as a commit holds them.
func chartFiles(t *testing.T, chart, prefix string) map[string]string {
	t.Helper()
	return helmtest.Files(t, filepath.Join(corpusDir(t), "charts", chart), prefix)
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	return nil
}

// TestRenderChartFromCommit: a path holding Chart.yaml renders as a Helm
// chart (in this process, as a trusted stack's), with the release name and namespace given, the
// values files of the same commit merged in order and the inline values
// last; test hooks are left out.
func TestRenderChartFromCommit(t *testing.T) {
	t.Parallel()
	files := chartFiles(t, "podinfo", "charts/podinfo")
	files["env/prod.yaml"] = "replicaCount: 2\nui: {message: from-env}\nhpa: {enabled: false}\n"
	c := commitAndFetch(t, files)
	opts := source.DefaultRenderOptions()
	opts.Helm = &source.HelmOptions{ReleaseName: "web", Namespace: "apps",
		ValuesFiles: []string{"charts/podinfo/values-prod.yaml", "env/prod.yaml"}, Values: map[string]any{"replicaCount": 4}}
	rev, err := c.Render(context.Background(), "charts/podinfo", opts)
	if err != nil {
		t.Fatal(err)
	}
	d := find(rev.Objects, "Deployment", "web-podinfo")
	if d == nil {
		t.Fatalf("no Deployment web-podinfo among %d objects", len(rev.Objects))
	}
	replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	env, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	js, _ := json.Marshal(env)
	if replicas != 4 || !strings.Contains(string(js), "from-env") {
		t.Errorf("replicas %d (want 4: inline values last), env without the values file's message", replicas)
	}
	if find(rev.Objects, "Deployment", "web-podinfo-redis") == nil {
		t.Error("values-prod.yaml (redis enabled) was not merged")
	}
	if find(rev.Objects, "HorizontalPodAutoscaler", "web-podinfo") != nil {
		t.Error("env/prod.yaml (hpa disabled) was not merged over values-prod.yaml")
	}
	for _, u := range rev.Objects {
		if _, hook := u.GetAnnotations()["helm.sh/hook"]; hook {
			t.Errorf("%s is a hook (%s): test hooks are never rendered into a revision", object.RefOf(u), u.GetAnnotations()["helm.sh/hook"])
		}
	}

	ingress, err := commitAndFetch(t, chartFiles(t, "ingress-nginx", "ingress")).Render(context.Background(), "ingress", source.DefaultRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	if job := find(ingress.Objects, "Job", "release-ingress-nginx-admission-create"); job == nil || job.GetAnnotations()["helm.sh/hook"] != "pre-install,pre-upgrade" {
		t.Errorf("ingress-nginx's admission Job is not rendered with its hook annotation: %v", job)
	}

	defaults, err := c.Render(context.Background(), "charts/podinfo", source.DefaultRenderOptions())
	if err != nil || find(defaults.Objects, "Deployment", "release-podinfo") == nil {
		t.Errorf("the chart with its defaults: %v", err)
	}
}

// TestRenderChartErrors: a row per way a chart render fails, each error
// naming what to fix.
func TestRenderChartErrors(t *testing.T) {
	t.Parallel()
	loop := map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"c/templates/cm.yaml": "{{ range until 20000 }}{{ range until 20000 }}{{ end }}{{ end }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}
	big := map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n{{- range until 40000 }}\n  k{{ . }}: {{ repeat 100 \"x\" | quote }}\n{{- end }}\n"}
	for _, tc := range []struct {
		name  string
		files map[string]string
		path  string
		helm  *source.HelmOptions
		opts  func(*source.RenderOptions)
		want  []string
	}{
		{"a value the schema refuses", chartFiles(t, "cert-manager", "cm"), "cm", &source.HelmOptions{Values: map[string]any{"replicaCount": "three"}}, nil,
			[]string{"values of chart cert-manager", "replicaCount"}},
		{"a missing values file", chartFiles(t, "podinfo", "p"), "p", &source.HelmOptions{ValuesFiles: []string{"p/nope.yaml"}}, nil,
			[]string{"values file p/nope.yaml"}},
		{"a values file outside the repository", chartFiles(t, "podinfo", "p"), "p", &source.HelmOptions{ValuesFiles: []string{"../x.yaml"}}, nil,
			[]string{`values file "../x.yaml"`, "stay inside"}},
		{"a template that runs too long (untrusted: in the sandbox)", loop, "c", nil, func(o *source.RenderOptions) { o.Timeout, o.SandboxCharts = 3*time.Second, true },
			[]string{"3s"}},
		{"output over the render's budget", big, "c", nil, func(o *source.RenderOptions) { o.MaxRenderBytes = 1 << 20 },
			[]string{"c: c/templates/cm.yaml", "over the limit of 1048576 bytes"}},
	} {
		opts := source.DefaultRenderOptions()
		opts.Helm = tc.helm
		if tc.opts != nil {
			tc.opts(&opts)
		}
		_, err := commitAndFetch(t, tc.files).Render(context.Background(), tc.path, opts)
		for _, want := range tc.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want it to say %q", tc.name, err, want)
			}
		}
	}
}

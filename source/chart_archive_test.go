package source_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"

	"github.com/gantryops/gantry/source"
)

// tgz packs files as a chart archive (under the chart's directory).
func tgz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "c/" + name, Mode: 0o644, Size: int64(len(content))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRenderChartArchive: a packaged chart renders with the values given;
// one whose values.yaml is a YAML bomb is refused before Helm's parser
// reads it, and values files (which need a commit) are refused.
func TestRenderChartArchive(t *testing.T) {
	t.Parallel()
	chart := map[string]string{"Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n", "values.yaml": "v: default\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {v: {{ .Values.v | quote }}}\n"}
	opts := source.DefaultRenderOptions()
	opts.Helm = &source.HelmOptions{ReleaseName: "r", Values: map[string]any{"v": "given"}}
	objs, err := source.RenderChartArchive(context.Background(), tgz(t, chart), "c-1.0.0", opts)
	if err != nil || len(objs) != 1 || objs[0].Object["data"].(map[string]any)["v"] != "given" {
		t.Fatalf("render: %v, %v", objs, err)
	}
	chart["values.yaml"] = bomb("")
	if _, err := source.RenderChartArchive(context.Background(), tgz(t, chart), "c-1.0.0", opts); err == nil || !strings.Contains(err.Error(), "c-1.0.0: values.yaml:6: YAML aliases") {
		t.Errorf("a YAML bomb in values.yaml: %v", err)
	}
	opts.Helm.ValuesFiles = []string{"v.yaml"}
	if _, err := source.RenderChartArchive(context.Background(), tgz(t, map[string]string{"Chart.yaml": chart["Chart.yaml"]}), "c-1.0.0", opts); err == nil || !strings.Contains(err.Error(), "values files are read from a Git commit") {
		t.Errorf("values files for an archive: %v", err)
	}
}

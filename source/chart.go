package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/ignore"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/source/helm"
)

// HelmOptions render a chart (a directory holding Chart.yaml): gantry.yaml's
// source.helm, with the stack's name and namespace filled in.
type HelmOptions struct {
	// ReleaseName is .Release.Name; Namespace is .Release.Namespace.
	ReleaseName string `json:"releaseName"`
	Namespace   string `json:"namespace,omitempty"`
	// ValuesFiles are values files of the same commit, by path from the
	// repository's root, merged in order over the chart's values.yaml.
	ValuesFiles []string `json:"valuesFiles,omitempty"`
	// Values are merged last, over the files.
	Values map[string]any `json:"values,omitempty"`
	// KubeVersion and APIVersions are .Capabilities' ("" and none: the
	// fixed set of helm.DefaultKubeVersion and helm.DefaultAPIVersions).
	KubeVersion string   `json:"kubeVersion,omitempty"`
	APIVersions []string `json:"apiVersions,omitempty"`
}

// options are the render options of h with values, its layers in order.
func (h HelmOptions) options(values []map[string]any) helm.Options {
	return helm.Options{ReleaseName: h.ReleaseName, Namespace: h.Namespace, Values: values, KubeVersion: h.KubeVersion, APIVersions: h.APIVersions}
}

// chartFileName marks a directory as a Helm chart.
const chartFileName = "Chart.yaml"

// isChart reports whether dir of fsys is a Helm chart.
func isChart(fsys filesys.FileSystem, dir string) bool {
	return fsys.IsDir(dir) && fsys.Exists(path.Join(dir, chartFileName))
}

// renderChart renders the chart at dir with opts.Helm (zero: the chart's
// defaults, released as "release"), reading its files and values files
// through fsys's bounds, and decodes its CRDs, manifests and hooks into
// objects with the bounds of any manifest. Hooks keep their helm.sh/hook
// annotations, which the planner reads to run them in their phases; test
// hooks are left out.
func renderChart(fsys filesys.FileSystem, dir string, opts RenderOptions) ([]*unstructured.Unstructured, error) {
	var ho HelmOptions
	if opts.Helm != nil {
		ho = *opts.Helm
	}
	files, err := chartFiles(fsys, dir)
	if err != nil {
		return nil, err
	}
	ch, err := helm.Load(files)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display(dir), err)
	}
	ctx := context.Background()
	if b, ok := fsys.(*boundedFS); ok && b.guard.ctx != nil {
		ctx = b.guard.ctx // the render's deadline bounds the fetches too
	}
	if err := fetchDependencies(ctx, ch, display(dir), opts); err != nil {
		return nil, err
	}
	values, err := valuesLayers(fsys, ho)
	if err != nil {
		return nil, err
	}
	if ho.ReleaseName == "" {
		ho.ReleaseName = "release"
	}
	out, err := helm.Render(context.Background(), ch, ho.options(values))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display(dir), err)
	}
	return decodeOutput(fsys, display(dir), out, opts)
}

// decodeOutput decodes a chart's rendering into objects: its CRDs, its
// manifests and its hooks but tests (`helm test`'s: never applied), named
// after chart in errors.
func decodeOutput(fsys filesys.FileSystem, chart string, out *helm.Output, opts RenderOptions) ([]*unstructured.Unstructured, error) {
	rendered := append(append([]helm.File{}, out.CRDs...), out.Manifests...)
	for _, h := range out.Hooks {
		if !h.IsTest() {
			rendered = append(rendered, h.File)
		}
	}
	return decodeRendered(fsys, chart, rendered, maxObjects(opts))
}

// RenderChartArchive renders a packaged chart (a Helm repository's .tgz,
// loaded within Helm's own decompression bound) with opts.Helm, in this
// process: its output counted against MaxRenderBytes and checked as any
// render's. Values files need a commit: they are refused here.
func RenderChartArchive(ctx context.Context, archive []byte, name string, opts RenderOptions) ([]*unstructured.Unstructured, error) {
	var ho HelmOptions
	if opts.Helm != nil {
		ho = *opts.Helm
	}
	if len(ho.ValuesFiles) > 0 {
		return nil, fmt.Errorf("chart %s: values files are read from a Git commit; a chart from a repository takes values only", name)
	}
	ch, err := loadArchive(archive, name)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", name, err)
	}
	if err := fetchDependencies(ctx, ch, name, opts); err != nil {
		return nil, err
	}
	var values []map[string]any
	if ho.Values != nil {
		values = append(values, ho.Values)
	}
	out, err := helm.Render(ctx, ch, ho.options(values))
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", name, err)
	}
	g := &guard{}
	var objs []*unstructured.Unstructured
	err = g.within(func() (err error) {
		objs, err = decodeOutput(newBoundedFS(filesys.MakeFsInMemory(), opts, g), name, out, opts)
		return err
	})
	return objs, cutError(err)
}

// loadArchive loads a packaged chart, its YAML files checked for bombs
// before Helm parses them.
func loadArchive(archive []byte, name string) (*chartv2.Chart, error) {
	return helm.LoadArchive(archive, func(file string, data []byte) error {
		if !slices.Contains(chartYAML, path.Base(file)) {
			return nil // templates are checked once rendered; other files are text
		}
		_, err := checkYAML(name+": "+file, data)
		return err
	})
}

// fetchDependencies fetches, through opts.Dependencies, the dependencies
// ch lists that its charts/ does not hold, and attaches them as
// subcharts; without a fetcher it leaves them missing, for the render to
// refuse by name.
func fetchDependencies(ctx context.Context, ch *chartv2.Chart, name string, opts RenderOptions) error {
	if opts.Dependencies == nil {
		return nil
	}
	for _, dep := range helm.Missing(ch) {
		archive, err := opts.Dependencies(ctx, dep)
		if err != nil {
			return fmt.Errorf("%s: dependency %s %s: %w", name, dep.Name, dep.Version, err)
		}
		sub, err := loadArchive(archive, name+": dependency "+dep.Name)
		if err == nil {
			err = helm.AddDependency(ch, dep, sub)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// chartJSON renders the chart at dir (renderChart) into each object's JSON,
// as the sandbox answers.
func chartJSON(fsys filesys.FileSystem, dir string, opts RenderOptions) ([][]byte, error) {
	objs, err := renderChart(fsys, dir, opts)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(objs))
	for i, u := range objs {
		if out[i], err = json.Marshal(u.Object); err != nil {
			return nil, fmt.Errorf("%s: %w", object.RefOf(u), err)
		}
	}
	return out, nil
}

// chartFiles reads the files of the chart at dir that .helmignore (and
// Helm's defaults) keep, by path relative to dir.
func chartFiles(fsys filesys.FileSystem, dir string) (map[string][]byte, error) {
	rules := ignore.Empty()
	if data, err := fsys.ReadFile(path.Join(dir, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("%s: %w", display(path.Join(dir, ignore.HelmIgnore)), err)
		}
	}
	rules.AddDefaults()
	var paths, rels []string
	err := fsys.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		switch {
		case rel == "":
			return nil
		case rules.Ignore(rel, info) && info.IsDir():
			return filepath.SkipDir
		case rules.Ignore(rel, info) || info.IsDir():
			return nil
		}
		paths, rels = append(paths, p), append(rels, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read chart %s: %w", display(dir), err)
	}
	data, err := readAll(fsys, paths, readChartFile)
	if err != nil {
		return nil, fmt.Errorf("read chart %s: %w", display(dir), err)
	}
	files := make(map[string][]byte, len(paths))
	for i, rel := range rels {
		files[rel] = data[i]
	}
	return files, nil
}

// chartYAML are the files of a chart (and of its subcharts) that Helm
// parses as YAML: read with the YAML checks of any manifest. Templates are
// checked once rendered (decodeRendered); other files are text.
var chartYAML = []string{chartFileName, "values.yaml", "Chart.lock", "requirements.yaml", "requirements.lock"}

// readChartFile reads a chart's file through fsys's bounds.
func readChartFile(fsys filesys.FileSystem, p string) ([]byte, error) {
	if b, ok := fsys.(*boundedFS); ok && !slices.Contains(chartYAML, path.Base(p)) {
		return b.readRaw(p)
	}
	return fsys.ReadFile(p)
}

// valuesLayers reads the values files (paths from the repository's root)
// and returns them with the inline values last, in merge order.
func valuesLayers(fsys filesys.FileSystem, ho HelmOptions) ([]map[string]any, error) {
	var layers []map[string]any
	for _, f := range ho.ValuesFiles {
		rel, err := cleanRepoPath(f)
		if err != nil {
			return nil, fmt.Errorf("values file %q: %w", f, err)
		}
		data, err := fsys.ReadFile("/" + rel)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", rel, err)
		}
		vals, err := common.ReadValues(data)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", rel, err)
		}
		layers = append(layers, vals)
	}
	if ho.Values != nil {
		layers = append(layers, ho.Values)
	}
	return layers, nil
}

// decodeRendered decodes a chart's rendered files into objects, each file
// counted against the render's budget and checked for YAML bombs like a
// file read from the commit, named "CHART: TEMPLATE" (the chart's path in
// the repository, the template's in the chart).
func decodeRendered(fsys filesys.FileSystem, chart string, files []helm.File, limit int) ([]*unstructured.Unstructured, error) {
	bounds, _ := fsys.(*boundedFS)
	named := make([]namedData, len(files))
	for i, f := range files {
		named[i] = namedData{name: chart + ": " + f.Path, data: []byte(f.Content)}
		if bounds != nil {
			if err := bounds.checkRendered(named[i].name, named[i].data); err != nil {
				return nil, err
			}
		}
	}
	return decodeAll(named, limit)
}

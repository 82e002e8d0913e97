// Package helm renders Helm charts with the Helm v4 SDK (helm.sh/helm/v4),
// as `helm template` does, and no more: no helm binary, no cluster access
// (`lookup` returns nothing), no release Secrets. It loads a chart from its
// files (a directory of a Git commit, or a chart archive), merges values
// files and inline values in order, enforces values.schema.json, renders
// with fixed or given Capabilities, and sorts the output into the chart's
// CRDs (crds/), its manifests in Helm's install order, and its hooks with
// their events, weights and delete policies. Turning that text into objects
// is the caller's (package source, with its YAML bounds).
package helm

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// Options say how a chart is rendered.
type Options struct {
	// ReleaseName is .Release.Name (gantry.yaml: the stack's name unless
	// source.helm.releaseName says otherwise).
	ReleaseName string `json:"releaseName"`
	// Namespace is .Release.Namespace (the stack's target namespace).
	Namespace string `json:"namespace,omitempty"`
	// Values are the values given, merged in order over the chart's own
	// values.yaml: each map's entries override those of the maps before
	// (maps merge key by key; anything else is replaced; null removes a
	// key of the chart's defaults, as in Helm).
	Values []map[string]any `json:"values,omitempty"`
	// KubeVersion is .Capabilities.KubeVersion ("": DefaultKubeVersion).
	KubeVersion string `json:"kubeVersion,omitempty"`
	// APIVersions are added to .Capabilities.APIVersions, which always
	// hold DefaultAPIVersions (the built-in APIs of gantry's client-go).
	APIVersions []string `json:"apiVersions,omitempty"`
}

// DefaultKubeVersion is .Capabilities.KubeVersion when none is given (local
// plans and reviews, which do not ask the cluster): the Kubernetes minor
// version of gantry's client-go, as Helm itself defaults it.
const DefaultKubeVersion = "v1.37.0"

// DefaultAPIVersions are the group/versions every render's
// .Capabilities.APIVersions holds: the built-in APIs client-go knows,
// apiextensions included (Helm's common.DefaultVersionSet).
func DefaultAPIVersions() []string { return slices.Clone(common.DefaultVersionSet) }

// File is a rendered file of the chart: its path inside the chart (for
// messages) and its YAML.
type File struct {
	Path    string
	Content string
}

// Hook is a rendered hook manifest and how Helm would run it.
type Hook struct {
	File
	// Kind and Name are the hook object's (Name empty with generateName).
	Kind, Name string
	// Events are helm.sh/hook's events (pre-install, post-upgrade, test, …).
	Events []string
	// Weight is helm.sh/hook-weight.
	Weight int
	// DeletePolicies are helm.sh/hook-delete-policy's policies.
	DeletePolicies []string
}

// IsTest reports whether the hook runs only for `helm test`.
func (h Hook) IsTest() bool {
	return len(h.Events) > 0 && !slices.ContainsFunc(h.Events, func(e string) bool { return e != string(release.HookTest) })
}

// Output is a chart's rendering.
type Output struct {
	// Chart is the chart's name and version.
	Chart, Version string
	// CRDs are the files of crds/ (of the chart and its subcharts), not
	// templated, applied first.
	CRDs []File
	// Manifests are the templates' manifests in Helm's install order.
	Manifests []File
	// Hooks are the hook manifests, in Helm's order (by weight, then kind).
	Hooks []Hook
}

// Load loads a chart (apiVersion v1 or v2) from its files, named by path
// relative to the chart's root: Chart.yaml, values.yaml, templates/…,
// charts/ with its subcharts (directories or archives).
func Load(files map[string][]byte) (*chartv2.Chart, error) {
	buffered := make([]*archive.BufferedFile, 0, len(files))
	for name, data := range files {
		buffered = append(buffered, &archive.BufferedFile{Name: name, Data: data})
	}
	slices.SortFunc(buffered, func(a, b *archive.BufferedFile) int { return strings.Compare(a.Name, b.Name) })
	ch, err := loader.LoadFiles(buffered)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	return ch, nil
}

// LoadArchive loads a packaged chart (.tgz), within Helm's bound on its
// decompressed size, calling check on each file first (a YAML bound, say)
// so that nothing the check refuses reaches Helm's parsers.
func LoadArchive(data []byte, check func(name string, data []byte) error) (*chartv2.Chart, error) {
	files, err := archive.LoadArchiveFiles(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("load chart archive: %w", err)
	}
	for _, f := range files {
		if err := check(f.Name, f.Data); err != nil {
			return nil, err
		}
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load chart archive: %w", err)
	}
	return ch, nil
}

// Capabilities returns the Capabilities of opts.
func Capabilities(opts Options) (*common.Capabilities, error) {
	v := opts.KubeVersion
	if v == "" {
		v = DefaultKubeVersion
	}
	kv, err := common.ParseKubeVersion(v)
	if err != nil {
		return nil, fmt.Errorf("kube version %q: %w", v, err)
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	caps.APIVersions = append(DefaultAPIVersions(), opts.APIVersions...)
	return caps, nil
}

// Render renders ch as `helm template --include-crds` would, with opts.
// values.schema.json (of the chart and its subcharts) is enforced; a chart
// whose kubeVersion constraint the Capabilities do not meet is refused.
func Render(ctx context.Context, ch *chartv2.Chart, opts Options) (*Output, error) {
	caps, err := Capabilities(opts)
	if err != nil {
		return nil, err
	}
	if kv := ch.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart %s requires kubeVersion %s, which Kubernetes %s does not meet", ch.Name(), kv, caps.KubeVersion.Version)
	}
	if err := checkDependencies(ch); err != nil {
		return nil, err
	}
	given := MergeValues(opts.Values...)
	// Subcharts' conditions and tags, and import-values, as helm install does.
	if err := chartutil.ProcessDependencies(ch, given); err != nil {
		return nil, fmt.Errorf("dependencies of chart %s: %w", ch.Name(), err)
	}
	vals, err := util.ToRenderValuesWithSchemaValidation(ch, given,
		common.ReleaseOptions{Name: opts.ReleaseName, Namespace: opts.Namespace, Revision: 1, IsInstall: true}, caps, false)
	if err != nil {
		return nil, fmt.Errorf("values of chart %s: %w", ch.Name(), err)
	}
	files, err := engine.Engine{}.RenderWithContext(ctx, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", ch.Name(), err)
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", ch.Name(), err)
	}
	out := &Output{Chart: ch.Name(), Version: ch.Metadata.Version}
	for _, crd := range ch.CRDObjects() {
		out.CRDs = append(out.CRDs, File{Path: crd.Filename, Content: string(crd.File.Data)})
	}
	for _, m := range manifests {
		out.Manifests = append(out.Manifests, File{Path: m.Name, Content: m.Content})
	}
	for _, h := range hooks {
		out.Hooks = append(out.Hooks, hookOf(h))
	}
	return out, nil
}

func hookOf(h *release.Hook) Hook {
	out := Hook{File: File{Path: h.Path, Content: h.Manifest}, Kind: h.Kind, Name: h.Name, Weight: h.Weight}
	for _, e := range h.Events {
		out.Events = append(out.Events, string(e))
	}
	for _, p := range h.DeletePolicies {
		out.DeletePolicies = append(out.DeletePolicies, string(p))
	}
	return out
}

// MergeValues merges values maps in order, as Helm merges `-f` files: a
// map's entries override the earlier maps', maps merging key by key.
func MergeValues(layers ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, l := range layers {
		out = mergeMaps(out, l)
	}
	return out
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

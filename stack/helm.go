package stack

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gantryops/gantry/internal/repourl"
	sigsyaml "sigs.k8s.io/yaml"
)

// Helm is how a stack's chart is rendered, when its source path holds a
// Helm chart (a Chart.yaml): gantry.yaml's source.helm.
type Helm struct {
	// ReleaseName is .Release.Name. Default: the stack's name.
	ReleaseName string
	// ValuesFiles are values files of the same commit, by path from the
	// repository's root, merged in order over the chart's values.yaml.
	ValuesFiles []string
	// Values are merged last, over the files, as `helm --values` merges.
	Values map[string]any
	// DependencyRepositories are the repositories (http(s) or oci:// URLs,
	// as Chart.yaml names them) the chart's dependencies may be fetched
	// from when its charts/ does not hold them. None: nothing is fetched.
	DependencyRepositories []string
}

// helm reads source.helm.
func (p *parser) helm(n *yaml.Node, path string) *Helm {
	h := &Helm{}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"releaseName": func(n *yaml.Node, path string) {
			h.ReleaseName = p.str(n, path)
			if msg := nameProblem(h.ReleaseName); h.ReleaseName != "" && msg != "" {
				p.fail(n, path, "%s", msg)
			}
		},
		"valuesFiles": func(n *yaml.Node, path string) {
			p.sequence(n, path, func(f *yaml.Node, path string) {
				file := p.str(f, path)
				if msg := pathProblem(file); msg != "" {
					p.fail(f, path, "%s", msg)
				}
				h.ValuesFiles = append(h.ValuesFiles, file)
			})
		},
		"values": func(n *yaml.Node, path string) { h.Values = p.values(n, path) },
		"dependencyRepositories": func(n *yaml.Node, path string) {
			p.sequence(n, path, func(r *yaml.Node, path string) {
				u := p.str(r, path)
				if repourl.FormOf(u) != repourl.HTTP && !strings.HasPrefix(u, "oci://") {
					p.fail(r, path, "give a Helm repository's http:// or https:// URL, or an OCI registry's oci://HOST/PATH, as Chart.yaml names it")
				}
				h.DependencyRepositories = append(h.DependencyRepositories, u)
			})
		},
	})
	return h
}

// values reads a mapping of chart values as Helm reads a values file (its
// numbers as JSON numbers), so that a chart renders them as `helm
// --values` would.
func (p *parser) values(n *yaml.Node, path string) map[string]any {
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "expected a mapping of chart values, found %s", describe(n))
		return nil
	}
	data, err := yaml.Marshal(n)
	if err == nil {
		var out map[string]any
		if err = sigsyaml.Unmarshal(data, &out); err == nil {
			return out
		}
	}
	p.fail(n, path, "chart values: %v", err)
	return nil
}

// chart reads source.chart.
func (p *parser) chart(n *yaml.Node, path string) *Chart {
	c := &Chart{}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"repository": func(n *yaml.Node, path string) { c.Repository = p.str(n, path) },
		"name":       func(n *yaml.Node, path string) { c.Name = p.str(n, path) },
		"version":    func(n *yaml.Node, path string) { c.Version = p.str(n, path) },
	})
	if n.Kind != yaml.MappingNode {
		return c
	}
	if form := repourl.FormOf(c.Repository); c.Repository == "" || (form != repourl.HTTP && !strings.HasPrefix(c.Repository, "oci://")) {
		p.fail(n, join(path, "repository"), "give the Helm repository's http:// or https:// URL, or an OCI registry's oci://HOST/PATH")
	}
	if c.Name == "" {
		p.fail(n, join(path, "name"), "missing: the chart's name in the repository")
	}
	if c.Version == "" {
		p.fail(n, join(path, "version"), "missing: an exact version (6.14.1) or a range (6.14.x, ^6): a chart is never taken at whatever is newest by default")
	}
	return c
}

// sourceKind checks that a source is one of a Git repository, a chart of
// a Helm repository and an OCI artifact, and what goes with each.
func (p *parser) sourceKind(n *yaml.Node, path string, src Source, sawRepo bool) {
	kinds := 0
	for _, set := range []bool{sawRepo, src.Chart != nil, src.Artifact != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		p.fail(n, path, "a source is one of a Git repository (repo), a chart of a Helm repository (chart) and an OCI artifact (artifact)")
	case kinds == 0 || (sawRepo && src.Repo == ""):
		p.fail(n, join(path, "repo"), "missing: name the Git repository (a path, file://, https:// or ssh:// URL), a chart of a Helm repository (chart), or an OCI artifact (artifact)")
	case src.Chart != nil && src.Helm != nil && len(src.Helm.ValuesFiles) > 0:
		p.fail(n, join(path, "helm.valuesFiles"), "values files are read from a Git commit; a chart from a Helm repository takes values only")
	case src.Chart != nil && src.Path != "" && src.Path != ".":
		p.fail(n, join(path, "path"), "a chart from a Helm repository is rendered whole: leave path out")
	case (src.Chart != nil || src.Artifact != nil) && src.Ref != "" && src.Ref != DefaultRef:
		p.fail(n, join(path, "ref"), "ref names a Git branch, tag or commit: a chart takes chart.version, an artifact artifact.tag, semver or digest")
	}
}

// adHocSourceProblems checks an ad hoc stack's source, in its flags' names.
func adHocSourceProblems(src Source) []string {
	c := src.Chart
	switch {
	case src.Artifact != nil && (c != nil || src.Repo != ""):
		return []string{"--artifact: a stack takes one of a Git repository (--repo), a chart (--chart-repo) and an artifact (--artifact)"}
	case src.Artifact != nil:
		var out []string
		for _, msg := range src.Artifact.Problems() {
			out = append(out, "--artifact: "+msg)
		}
		return out
	case c == nil && src.Repo == "":
		return []string{"--repo: missing: name the Git repository (or --chart-repo, a Helm repository, or --artifact, an OCI artifact)"}
	case c == nil:
		return nil
	case src.Repo != "":
		return []string{"--chart-repo: a stack takes a Git repository (--repo) or a chart (--chart-repo), not both"}
	}
	var out []string
	if repourl.FormOf(c.Repository) != repourl.HTTP && !strings.HasPrefix(c.Repository, "oci://") {
		out = append(out, "--chart-repo: give the Helm repository's http:// or https:// URL, or an OCI registry's oci://HOST/PATH")
	}
	if c.Name == "" {
		out = append(out, "--chart: missing: the chart's name in the repository")
	}
	if c.Version == "" {
		out = append(out, "--chart-version: missing: an exact version or a semver range")
	}
	return out
}

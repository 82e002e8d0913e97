package stack

import (
	"go.yaml.in/yaml/v3"
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

package stack

import (
	"go.yaml.in/yaml/v3"

	"github.com/gantryops/gantry/sensitive"
)

// sensitive reads a stack's sensitive fields: a list of {group, kind,
// name, fields}, each field a path sensitive.ParsePath reads.
func (p *parser) sensitive(n *yaml.Node, path string) []sensitive.Rule {
	var out []sensitive.Rule
	p.sequence(n, path, func(item *yaml.Node, path string) {
		var r sensitive.Rule
		p.mapping(item, path, map[string]func(*yaml.Node, string){
			"group": func(n *yaml.Node, path string) { r.Group = p.str(n, path) },
			"kind":  func(n *yaml.Node, path string) { r.Kind = p.str(n, path) },
			"name":  func(n *yaml.Node, path string) { r.Name = p.str(n, path) },
			"fields": func(n *yaml.Node, path string) {
				p.sequence(n, path, func(f *yaml.Node, path string) {
					field := p.str(f, path)
					if _, err := sensitive.ParsePath(field); err != nil {
						p.fail(f, path, "%q is not a field path: %v (e.g. data.password, data.*, data['app.properties'])", field, err)
					}
					r.Fields = append(r.Fields, field)
				})
			},
		})
		if item.Kind != yaml.MappingNode {
			return
		}
		if r.Kind == "" {
			p.fail(item, join(path, "kind"), "missing: name the kind whose fields are sensitive (and group, for a kind outside the core group)")
		}
		if len(r.Fields) == 0 {
			p.fail(item, join(path, "fields"), "missing: list the sensitive fields, e.g. [data.password]")
		}
		out = append(out, r)
	})
	return out
}

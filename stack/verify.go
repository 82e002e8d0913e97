package stack

import "go.yaml.in/yaml/v3"

// verify reads a stack's signature policy.
func (p *parser) verify(n *yaml.Node, path string) *Verify {
	v := &Verify{}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"provider": func(n *yaml.Node, path string) {
			v.Provider = p.str(n, path)
			if v.Provider != "openpgp" && v.Provider != "ssh" {
				p.fail(n, path, "%q is not a signature provider: use openpgp or ssh", v.Provider)
			}
		},
		"keys": func(n *yaml.Node, path string) { v.Keys = p.str(n, path) },
		"mode": func(n *yaml.Node, path string) {
			v.Mode = p.str(n, path)
			if v.Mode != "commit" && v.Mode != "tag" {
				p.fail(n, path, "%q is not a verification mode: use commit or tag", v.Mode)
			}
		},
	})
	if v.Mode == "" {
		v.Mode = "commit"
	}
	if n.Kind == yaml.MappingNode && (v.Provider == "" || v.Keys == "") {
		p.fail(n, path, "give provider (openpgp or ssh) and keys (a file of trusted public keys)")
	}
	return v
}

package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bounds on one YAML document, checked on every file a render reads before
// kustomize or the manifest decoder parses it. kustomize's reader (kyaml's
// kio.ByteReader) replaces every alias by a deep copy of its anchor
// (RNode.DeAnchor): nine aliases of nine aliases, nine levels deep, are 387
// million nodes from 400 bytes. The bounds are far above what manifests do:
// Kubernetes objects nest a few dozen levels, and anchors in manifests are
// rare and small.
const (
	// maxYAMLDepth bounds nesting, counted through aliases.
	maxYAMLDepth = 1000
	// maxYAMLAliases bounds the aliases of one document.
	maxYAMLAliases = 10000
	// maxYAMLExpansion bounds how many nodes aliases may add to a document
	// once expanded (about 200 bytes each in memory, copied several times
	// by kustomize).
	maxYAMLExpansion = 200000
	// maxNestedYAML bounds how deep YAML held in strings is checked (an
	// inline patch, an inline generator config).
	maxNestedYAML = 3
)

// yamlBounds carries the nesting of YAML in strings.
type yamlBounds struct {
	level int
	line  int // line of the string holding this YAML in its file, 0 for a file
}

// checkYAML measures every YAML document of data (a file named file, or a
// string inside it) and refuses one over the bounds, naming file and line.
// Content that is not YAML (an env file, binary data, a broken document) is
// passed through: kustomize does not parse such files as YAML, or reports
// its own parse error. A string that holds both an anchor and an alias
// indicator is checked as YAML too: kustomize parses inline patches and
// inline generator configs from strings.
func checkYAML(file string, data []byte, b yamlBounds) error {
	if b.level > maxNestedYAML || !mayHaveAlias(data) && depthBound(data) <= maxYAMLDepth {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // not YAML: its reader reports it, or reads it as data
		}
		m := measurer{sizes: map[*yaml.Node]size{}, file: file, bounds: b}
		if _, err := m.measure(&doc, 0); err != nil {
			return err
		}
	}
}

// size is a node's expanded size and depth.
type size struct {
	nodes int64
	depth int
}

// measurer walks one document, memoising the expanded size of every node so
// that an alias costs one lookup, not a walk of its anchor.
type measurer struct {
	sizes   map[*yaml.Node]size
	aliases int
	written int64
	file    string
	bounds  yamlBounds
}

func (m *measurer) where(n *yaml.Node) string {
	line := n.Line
	if m.bounds.line > 0 {
		line += m.bounds.line // a string's lines count from the line it starts on
	}
	return fmt.Sprintf("%s:%d", m.file, line)
}

func (m *measurer) measure(n *yaml.Node, depth int) (size, error) {
	if s, ok := m.sizes[n]; ok {
		return s, nil
	}
	if depth > maxYAMLDepth {
		return size{}, fmt.Errorf("%s: YAML nested more than %d levels deep (aliases counted): refused before parsing; flatten the document", m.where(n), maxYAMLDepth)
	}
	m.sizes[n] = size{nodes: 1, depth: 1} // an alias to a node being measured (a cycle) counts once
	var s size
	switch n.Kind {
	case yaml.AliasNode:
		m.aliases++
		if m.aliases > maxYAMLAliases {
			return size{}, fmt.Errorf("%s: more than %d YAML aliases in one document: refused before parsing; write the values out", m.where(n), maxYAMLAliases)
		}
		if n.Alias == nil {
			return size{nodes: 1, depth: 1}, nil
		}
		target, err := m.measure(n.Alias, depth)
		if err != nil {
			return size{}, err
		}
		s = target
	case yaml.ScalarNode:
		m.written++
		s = size{nodes: 1, depth: 1}
		if err := m.nested(n); err != nil {
			return size{}, err
		}
	default:
		m.written++
		s = size{nodes: 1, depth: 1}
		for _, c := range n.Content {
			cs, err := m.measure(c, depth+1)
			if err != nil {
				return size{}, err
			}
			s.nodes = min(s.nodes+cs.nodes, 1<<62)
			s.depth = max(s.depth, cs.depth+1)
		}
	}
	if extra := s.nodes - m.written; extra > maxYAMLExpansion {
		return size{}, fmt.Errorf("%s: YAML aliases expand this document by more than %d nodes (an alias bomb): refused before parsing; write the values out", m.where(n), maxYAMLExpansion)
	}
	if depth+s.depth > maxYAMLDepth+1 {
		return size{}, fmt.Errorf("%s: YAML nested more than %d levels deep (aliases counted): refused before parsing; flatten the document", m.where(n), maxYAMLDepth)
	}
	m.sizes[n] = s
	return s, nil
}

// nested checks a string scalar that could hold a YAML bomb of its own.
func (m *measurer) nested(n *yaml.Node) error {
	v := n.Value
	if !strings.ContainsRune(v, '&') || !strings.ContainsRune(v, '*') {
		return nil
	}
	return checkYAML(m.file, []byte(v), yamlBounds{level: m.bounds.level + 1, line: n.Line + m.bounds.line})
}

// mayHaveAlias reports whether data holds something a YAML parser could
// read as an alias: a '*' that starts a token (after a line start, a blank
// or a flow indicator) and is followed by a name character. Documents
// without one cannot expand; most manifests are such, and skip the parse.
func mayHaveAlias(data []byte) bool {
	for i := bytes.IndexByte(data, '*'); i >= 0; {
		if (i == 0 || strings.IndexByte(" \t\r\n[{,", data[i-1]) >= 0) &&
			i+1 < len(data) && strings.IndexByte(" \t\r\n,[]{}", data[i+1]) < 0 {
			return true
		}
		next := bytes.IndexByte(data[i+1:], '*')
		if next < 0 {
			return false
		}
		i += 1 + next
	}
	return false
}

// depthBound is an upper bound of a YAML stream's nesting, read without
// parsing: a block node's parents sit at smaller indents, except that a
// mapping and its sequence value may share one (two levels per indent);
// a line opens at most two levels per indicator ("- ", "? ", ": ") on
// it; and flow collections open one per bracket, all brackets counted.
func depthBound(data []byte) int {
	maxIndent, maxIndicators, brackets := 0, 0, 0
	for line := range bytes.Lines(data) {
		indent := len(line) - len(bytes.TrimLeft(line, " "))
		maxIndent = max(maxIndent, indent)
		indicators := 0
		for i, c := range line {
			switch c {
			case '[', '{':
				brackets++
			case '-', '?', ':':
				if i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\n' || line[i+1] == '\r' || line[i+1] == '\t' {
					indicators++
				}
			}
		}
		maxIndicators = max(maxIndicators, indicators)
	}
	return 2*(maxIndent+1) + 2*maxIndicators + brackets
}

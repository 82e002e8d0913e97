package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Bounds on the YAML a render reads, checked on every file before
// kustomize or the manifest decoder parses it. kustomize's reader (kyaml's
// kio.ByteReader) replaces every alias by a deep copy of its anchor
// (RNode.DeAnchor): nine aliases of nine aliases, nine levels deep, are 387
// million nodes from 400 bytes, and one alias of a 1 MiB scalar is 1 MiB
// more. The bounds are far above what manifests do: Kubernetes objects nest
// a few dozen levels, and anchors in manifests are rare and small.
const (
	// maxYAMLDepth bounds nesting, counted through aliases.
	maxYAMLDepth = 1000
	// maxYAMLAliases bounds the aliases of one document.
	maxYAMLAliases = 10000
	// maxYAMLExpansion bounds how many nodes aliases may add to a document
	// once expanded (about 200 bytes each in memory, copied several times
	// by kustomize).
	maxYAMLExpansion = 200000
	// maxYAMLExpansionBytes bounds the bytes aliases may add to a file
	// once expanded, over all its documents and the YAML held in its
	// strings: each node an alias adds counts yamlNodeBytes, and a scalar
	// its text too. What a file adds also counts against the render's
	// byte budget.
	maxYAMLExpansionBytes = 16 << 20
	// yamlNodeBytes is what a node an alias adds counts, whatever its text.
	yamlNodeBytes = 64
	// maxNestedYAML bounds how deep YAML held in strings is checked (an
	// inline patch, an inline generator config, and strings of those:
	// kustomize parses no deeper).
	maxNestedYAML = 3
)

// checkYAML measures every YAML document of data, a file named file, and
// refuses one over the bounds, naming file and line. It returns the bytes
// the file's aliases add once expanded. Content that is not YAML (an env
// file, binary data, a broken document) is passed through: kustomize does
// not parse such files as YAML, or reports its own parse error.
//
// The check cannot be skipped by writing an alias in a form a scan does not
// know: only data whose bytes cannot hold an alias skips the parse
// (mayAlias: not both '*' and '&', and no escape that makes one; then its
// nesting has a cheap upper bound, depthBound). And
// the documents are measured as every reader of the render splits them:
// the whole stream, kyaml's split (at lines starting with "---", comments
// after it allowed) and the manifest reader's (splitDocuments), each chunk
// on its own, so that a separator one reader sees and another does not, or
// a broken document before a bomb, hides nothing.
func checkYAML(file string, data []byte) (int64, error) {
	c := yamlCheck{file: file, units: map[string]int64{}}
	return c.check(data, yamlBounds{})
}

// yamlBounds carries the nesting of YAML in strings.
type yamlBounds struct {
	level int
	line  int // line of the string holding this YAML in its file, 0 for a file
}

// yamlCheck measures one file and the YAML held in its strings.
type yamlCheck struct {
	file  string
	units map[string]int64 // the expansion of each text measured, by content
}

// check measures data and returns the bytes its aliases add: the most of
// any way of splitting it, within maxYAMLExpansionBytes. The whole stream
// is measured first; the chunks of the readers that split it are measured
// too unless they are that stream's documents (chunksAreDocuments).
func (c *yamlCheck) check(data []byte, b yamlBounds) (int64, error) {
	if b.level > maxNestedYAML || !mayAlias(data) && depthBound(data) <= maxYAMLDepth {
		return 0, nil
	}
	most, clean, err := c.unit(chunk{line: 0, body: data}, b, 0)
	if err != nil || clean && chunksAreDocuments(data) {
		return most, err
	}
	for _, split := range splits(data) {
		var sum int64
		for _, u := range split {
			added, err := c.memoUnit(u, b, sum)
			if err != nil {
				return 0, err
			}
			if sum += added; sum > maxYAMLExpansionBytes {
				return 0, fmt.Errorf("%s:%d: YAML aliases expand this file by more than %d bytes (an alias bomb): refused before parsing; write the values out", c.file, u.line+b.line+1, maxYAMLExpansionBytes)
			}
		}
		most = max(most, sum)
	}
	return most, nil
}

// memoUnit is unit for chunks, which two readers often cut alike: each
// text is measured once.
func (c *yamlCheck) memoUnit(u chunk, b yamlBounds, before int64) (int64, error) {
	if added, ok := c.units[string(u.body)]; ok {
		return added, nil
	}
	added, _, err := c.unit(u, b, before)
	if err == nil {
		c.units[string(u.body)] = added
	}
	return added, err
}

// unit measures every document of one chunk, up to its first parse error,
// and returns the bytes its aliases add and whether it parsed to its end.
// before is what chunks before it added.
func (c *yamlCheck) unit(u chunk, b yamlBounds, before int64) (int64, bool, error) {
	var sum int64
	dec := yaml.NewDecoder(bytes.NewReader(u.body))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return sum, true, nil
		}
		if err != nil {
			return sum, false, nil // not YAML from here on: its readers report it, or read it as data
		}
		m := measurer{check: c, sizes: map[*yaml.Node]size{}, bounds: b, offset: u.line + b.line, before: before + sum}
		s, err := m.measure(&doc, 0)
		if err != nil {
			return 0, false, err
		}
		sum += max(s.bytes-m.writtenBytes, 0)
	}
}

// size is a node's expanded size and depth.
type size struct {
	nodes int64
	bytes int64
	depth int
}

// measurer walks one document, memoising the expanded size of every node so
// that an alias costs one lookup, not a walk of its anchor.
type measurer struct {
	check        *yamlCheck
	sizes        map[*yaml.Node]size
	aliases      int
	written      int64 // nodes measured, aliases not counted
	writtenBytes int64 // their bytes
	bounds       yamlBounds
	offset       int   // lines before the document's chunk, in its file
	before       int64 // bytes aliases added before this document
}

func (m *measurer) where(n *yaml.Node) string {
	return fmt.Sprintf("%s:%d", m.check.file, n.Line+m.offset)
}

func (m *measurer) measure(n *yaml.Node, depth int) (size, error) {
	if s, ok := m.sizes[n]; ok {
		return s, nil
	}
	if depth > maxYAMLDepth {
		return size{}, m.tooDeep(n)
	}
	m.sizes[n] = size{nodes: 1, bytes: yamlNodeBytes, depth: 1} // an alias to a node being measured (a cycle) counts once
	s, err := m.expand(n, depth)
	if err != nil {
		return size{}, err
	}
	if extra := s.nodes - m.written; extra > maxYAMLExpansion {
		return size{}, fmt.Errorf("%s: YAML aliases expand this document by more than %d nodes (an alias bomb): refused before parsing; write the values out", m.where(n), maxYAMLExpansion)
	}
	if extra := m.before + s.bytes - m.writtenBytes; extra > maxYAMLExpansionBytes {
		return size{}, fmt.Errorf("%s: YAML aliases expand this document by more than %d bytes (an alias bomb): refused before parsing; write the values out", m.where(n), maxYAMLExpansionBytes)
	}
	if depth+s.depth > maxYAMLDepth+1 {
		return size{}, m.tooDeep(n)
	}
	m.sizes[n] = s
	return s, nil
}

// expand returns the expanded size of n: an alias's is its anchor's, a
// scalar's its text and that of the YAML it holds, a collection's the sum
// of its children's.
func (m *measurer) expand(n *yaml.Node, depth int) (size, error) {
	switch n.Kind {
	case yaml.AliasNode:
		m.aliases++
		if m.aliases > maxYAMLAliases {
			return size{}, fmt.Errorf("%s: more than %d YAML aliases in one document: refused before parsing; write the values out", m.where(n), maxYAMLAliases)
		}
		if n.Alias == nil {
			return size{nodes: 1, bytes: yamlNodeBytes, depth: 1}, nil
		}
		return m.measure(n.Alias, depth)
	case yaml.ScalarNode:
		nested, err := m.nested(n)
		if err != nil {
			return size{}, err
		}
		s := size{nodes: 1, bytes: yamlNodeBytes + int64(len(n.Value)), depth: 1}
		m.written++
		m.writtenBytes += s.bytes
		s.bytes += nested
		return s, nil
	}
	m.written++
	m.writtenBytes += yamlNodeBytes
	s := size{nodes: 1, bytes: yamlNodeBytes, depth: 1}
	for _, c := range n.Content {
		cs, err := m.measure(c, depth+1)
		if err != nil {
			return size{}, err
		}
		s.nodes = min(s.nodes+cs.nodes, 1<<62)
		s.bytes = min(s.bytes+cs.bytes, 1<<62)
		s.depth = max(s.depth, cs.depth+1)
	}
	return s, nil
}

func (m *measurer) tooDeep(n *yaml.Node) error {
	return fmt.Errorf("%s: YAML nested more than %d levels deep (aliases counted): refused before parsing; flatten the document", m.where(n), maxYAMLDepth)
}

// nested checks a string scalar that could hold YAML of its own with an
// alias (kustomize parses inline patches and configs from strings), and
// returns the bytes its aliases add.
func (m *measurer) nested(n *yaml.Node) (int64, error) {
	if !mayAlias([]byte(n.Value)) {
		return 0, nil
	}
	return m.check.check([]byte(n.Value), yamlBounds{level: m.bounds.level + 1, line: n.Line + m.offset})
}

// mayAlias reports whether data, or the YAML held in its strings at any
// depth, could hold an alias that resolves. An alias is a '*' token and
// needs a '&' token in its document: tokens are literal characters, never
// made by escapes. A scalar's value holds the text's own characters, and
// those its escapes make in double-quoted style; only \x, \u, \U (any
// character) and \\ (a backslash, which could start such an escape one
// level down) make '*', '&' or '\'. So text with neither both '*' and '&',
// nor a backslash followed by x, u, U or a backslash, has no alias, and
// neither has any string in it, at any depth. This holds for UTF-8, where
// those are bytes; UTF-16 (which YAML parsers read after a byte order
// mark) puts a zero byte between them, so it is always parsed.
func mayAlias(data []byte) bool {
	if utf16(data) || bytes.IndexByte(data, '*') >= 0 && bytes.IndexByte(data, '&') >= 0 {
		return true
	}
	for i := bytes.IndexByte(data, '\\'); i >= 0 && i+1 < len(data); {
		switch data[i+1] {
		case 'x', 'u', 'U', '\\':
			return true
		}
		j := bytes.IndexByte(data[i+1:], '\\')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// CheckYAML bounds a YAML document gantry reads from outside a render (a
// Helm repository's index.yaml): aliases, expansion, nesting, as every
// YAML read of a render is bounded (checkYAML). name names it in errors.
func CheckYAML(name string, data []byte) error {
	_, err := checkYAML(name, data)
	return err
}

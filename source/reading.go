package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The same file is read by two YAML readers. Plain manifests are read as
// kubectl apply -f reads them, by sigs.k8s.io/yaml: YAML 1.1, where yes,
// no, on, off, y and n are booleans and every key is converted to a JSON
// string after parsing (on: becomes "true"). kustomize reads with kyaml:
// YAML 1.2, where those words are strings, dates are times, and a key is
// taken as written. checkReadings refuses, in both paths, what the two
// read differently or what the conversion to JSON would lose, naming the
// file and line and saying how to write it so that both agree.

// reader is the YAML reader a document is checked for.
type reader int

const (
	// readPlain: sigs.k8s.io/yaml, as kubectl apply -f and kustomize's
	// own kustomization files.
	readPlain reader = iota
	// readKustomize: kyaml, the resources and patches kustomize reads.
	readKustomize
)

// yaml11Booleans are the plain words YAML 1.1 (kubectl apply -f) reads as
// booleans and YAML 1.2 (kustomize) as strings: go.yaml.in/yaml/v2's
// resolve table, less true and false, which both read as booleans.
var yaml11Booleans = map[string]string{
	"y": "true", "Y": "true", "yes": "true", "Yes": "true", "YES": "true",
	"on": "true", "On": "true", "ON": "true",
	"n": "false", "N": "false", "no": "false", "No": "false", "NO": "false",
	"off": "false", "Off": "false", "OFF": "false",
}

// checkReadings parses d as YAML 1.2 and refuses what its readers would
// read differently, or lose: parsed is false when it is no YAML the
// checker can read (the caller then converts it strictly, and the
// converter reports what is wrong). The errors name the file and line and
// quote keys, never values: a value may be a Secret's.
func checkReadings(d document, mode reader) (parsed bool, err error) {
	root, parsed := parseDocument(d)
	return parsed, checkParsed(d, root, mode)
}

// parseDocument parses d as YAML 1.2, as kustomize does: its root (nil
// when it is empty), or false when it is no YAML.
func parseDocument(d document) (*yaml.Node, bool) {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(d.body)).Decode(&root); err != nil {
		return nil, errors.Is(err, io.EOF)
	}
	return &root, true
}

// checkParsed is checkReadings of a document already parsed (root nil:
// nothing to check).
func checkParsed(d document, root *yaml.Node, mode reader) error {
	if root == nil {
		return nil
	}
	c := &readingChecker{doc: d, mode: mode}
	c.node(root, nil)
	if len(c.errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(c.errs, "; "))
}

// kindOf returns the kind a parsed document declares at its top: "" when
// it declares none, "?" when it cannot be told without converting it (a
// merge (<<) may provide it, a key or the value is not a plain string, or
// the kind is written twice).
func kindOf(root *yaml.Node) string {
	m := root
	if m != nil && m.Kind == yaml.DocumentNode && len(m.Content) == 1 {
		m = m.Content[0]
	}
	if m == nil || m.Kind != yaml.MappingNode {
		return ""
	}
	kind := ""
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if isMergeKey(k) || k.Tag != "!!str" && k.Kind == yaml.ScalarNode {
			return "?" // a tag such as !!binary may make any key "kind"
		}
		if k.Kind != yaml.ScalarNode || k.Value != "kind" {
			continue
		}
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || kind != "" {
			return "?"
		}
		kind = v.Value
	}
	return kind
}

// readingChecker walks one parsed document, collecting what it refuses.
type readingChecker struct {
	doc    document
	mode   reader
	merged map[*yaml.Node][]string // the keys a merge (<<) source provides
	errs   []string
}

// maxReadingErrors bounds the problems reported for one document.
const maxReadingErrors = 10

func (c *readingChecker) fail(n *yaml.Node, format string, args ...any) {
	if len(c.errs) < maxReadingErrors {
		c.errs = append(c.errs, fmt.Sprintf("%s:%d: ", c.doc.file, c.line(n))+fmt.Sprintf(format, args...))
	}
}

// line is the line of n in the file.
func (c *readingChecker) line(n *yaml.Node) int { return c.doc.line + n.Line - 1 }

// node checks n and what it holds. Aliases are not followed: the node
// they name is checked where it is written.
func (c *readingChecker) node(n *yaml.Node, key *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, child := range n.Content {
			if child.Kind != yaml.ScalarNode { // a scalar alone is no manifest
				c.node(child, key)
			}
		}
	case yaml.SequenceNode:
		for _, child := range n.Content {
			c.node(child, nil)
		}
	case yaml.MappingNode:
		c.mapping(n)
	case yaml.ScalarNode:
		c.value(n, key)
	}
}

// plain reports whether n is a scalar written without quotes or a tag:
// the only kind whose reading depends on the reader.
func plain(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}

// value checks a scalar that is not a key: the value of key, or an item
// of a list when key is nil. The messages do not quote it: it may be a
// Secret's.
func (c *readingChecker) value(n *yaml.Node, key *yaml.Node) {
	if n.Tag == "!!timestamp" {
		c.timestamp(n, key)
		return
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 && strings.HasSuffix(n.Value, "\n\n") {
		c.fail(n, "%s: a block scalar keeping its trailing blank lines (|+ or >+) is read with one newline more by kustomize, whose writer does not keep them: write the value as a quoted string, or drop the blank lines", valueName(key))
		return
	}
	if !plain(n) {
		return
	}
	if _, ok := yaml11Booleans[n.Value]; ok {
		c.fail(n, "%s: an unquoted y, n, yes, no, on or off (in any case) is a boolean to kubectl apply -f (YAML 1.1) and a string to kustomize (YAML 1.2): write true or false for a boolean, or quote the value for a string", valueName(key))
		return
	}
}

// timestamp checks a scalar YAML 1.2 reads as a time, unquoted or tagged
// !!timestamp: kustomize rewrites it in RFC 3339, kubectl apply -f keeps
// it as written.
func (c *readingChecker) timestamp(n *yaml.Node, key *yaml.Node) {
	if t, err := time.Parse(time.RFC3339Nano, n.Value); err != nil || t.Format(time.RFC3339Nano) != n.Value {
		c.fail(n, "%s: an unquoted date or time not written as in RFC 3339 (2006-01-02T15:04:05Z) is a string to kubectl apply -f and a time to kustomize, which rewrites it: quote the value, without a tag", valueName(key))
	}
}

// valueName names the value of key, or an item of a list (key nil).
func valueName(key *yaml.Node) string {
	if key == nil {
		return "an item of a list"
	}
	return fmt.Sprintf("the value of %q", key.Value)
}

// mapping checks a mapping: each key reads as one string in both readers,
// no two keys read as the same string, and merges (<<) read the same.
func (c *readingChecker) mapping(n *yaml.Node) {
	keys := map[string]keyAt{}
	var merge *keyAt
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			if merge != nil {
				c.fail(k, "merge key << appears twice in the same mapping (first at line %d): merge several with <<: [*a, *b]", c.line(merge.node))
			}
			merge = &keyAt{node: k, index: i}
			c.node(v, k)
			continue
		}
		name, ok := c.key(k)
		c.node(v, k)
		if n.Style&yaml.FlowStyle != 0 && v.Kind == yaml.ScalarNode && v.Value == "" && v.Tag == "!!null" && plain(v) {
			c.fail(v, "the value of %q is left out in a flow mapping ({%s: } or {%s}): kubectl apply -f reads null, kustomize an empty string: write null, or \"\" for an empty string", k.Value, k.Value, k.Value)
		}
		if !ok {
			continue
		}
		if prev, dup := keys[name]; dup {
			c.fail(k, "key %q appears twice in the same mapping (line %d: %s; line %d: %s): remove one of them (the API server refuses duplicate fields; YAML readers, kubectl apply -f's included, keep one of them silently)",
				name, c.line(prev.node), prev.spelling(), c.line(k), keyAt{node: k}.spelling())
			continue
		}
		keys[name] = keyAt{node: k, index: i}
	}
	if merge != nil {
		c.mergeOverrides(keys, *merge, n.Content[merge.index+1])
	}
}

// mergeOverrides refuses a key written before a merge (<<) that the merge
// also provides: YAML 1.1 readers (kubectl apply -f) let the merge
// override it, YAML 1.2 readers (kustomize) keep the key as written. A key
// written after the merge overrides it in both.
func (c *readingChecker) mergeOverrides(keys map[string]keyAt, merge keyAt, source *yaml.Node) {
	for _, name := range c.mergedKeys(source, 0) {
		if k, ok := keys[name]; ok && k.index < merge.index {
			c.fail(k.node, "key %q is written before the merge (<<) at line %d, which also sets it: kubectl apply -f (YAML 1.1) keeps the merged value, kustomize the one written here: write the key after the <<",
				name, c.line(merge.node))
		}
	}
}

// maxMergeDepth bounds how deep merges of merges are followed.
const maxMergeDepth = 32

// mergedKeys returns the keys a merge source provides (a mapping, an alias
// of one, or a list of those), merges within it included.
func (c *readingChecker) mergedKeys(n *yaml.Node, depth int) []string {
	if depth > maxMergeDepth {
		return nil
	}
	if keys, ok := c.merged[n]; ok {
		return keys
	}
	if c.merged == nil {
		c.merged = map[*yaml.Node][]string{}
	}
	c.merged[n] = nil // a cycle reads as no keys
	var keys []string
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias != nil {
			keys = c.mergedKeys(n.Alias, depth+1)
		}
	case yaml.SequenceNode:
		for _, e := range n.Content {
			keys = append(keys, c.mergedKeys(e, depth+1)...)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if isMergeKey(n.Content[i]) {
				keys = append(keys, c.mergedKeys(n.Content[i+1], depth+1)...)
			} else if n.Content[i].Kind == yaml.ScalarNode {
				keys = append(keys, n.Content[i].Value)
			}
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	c.merged[n] = keys
	return keys
}

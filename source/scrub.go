package source

import (
	"bytes"
	"slices"
	"strings"

	"github.com/gantryops/gantry/sensitive"
	yamlv3 "go.yaml.in/yaml/v3"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// Errors from rendering can quote what they failed on: a parser the value
// it could not convert, kustomize the value a replacement could not split.
// Every error a render returns passes through a scrubber of every value
// that could be Secret content in what the render read: the sensitive
// fields of every document of kind Secret in any file read (buildReads
// sees every read of a kustomize build), the inputs of secretGenerators,
// the values of patches that may target a Secret, the parts replacements
// split values into and, for a document that mentions a Secret but does
// not convert to JSON, every scalar in it.

// secretValues gathers the values that could be Secret content.
type secretValues struct {
	values []string
	// delimiters are those replacements split values by: the parts of a
	// Secret's value they copy elsewhere are Secret content too.
	delimiters []string
}

// add adds values as they are.
func (s *secretValues) add(values ...string) {
	for _, v := range values {
		if v != "" {
			s.values = append(s.values, v)
		}
	}
}

// scrub returns err without any of the values, in any form
// sensitive.Scrubber knows.
func (s *secretValues) scrub(err error) error {
	if err == nil || len(s.values) == 0 {
		return err
	}
	values := slices.Clone(s.values)
	for _, d := range s.delimiters {
		for _, v := range s.values {
			if strings.Contains(v, d) {
				values = append(values, strings.Split(v, d)...)
			}
		}
	}
	// kyaml prints a node it could not use as YAML: a value of several
	// lines as an indented block, each line alone.
	for _, v := range values {
		if strings.Contains(v, "\n") {
			for line := range strings.Lines(v) {
				values = append(values, strings.TrimSpace(line))
			}
		}
	}
	return sensitive.NewValueScrubber(values...).Error(err)
}

// replacementDelimiters adds the delimiters the replacements of a parsed
// document split values by: every "delimiter" field, wherever it is
// (inline in a kustomization, in a replacements file, in a
// ReplacementTransformer config).
func (s *secretValues) replacementDelimiters(d document, root *yamlv3.Node) {
	if root == nil || !bytes.Contains(d.body, []byte("delimiter")) {
		return
	}
	var walk func(n *yamlv3.Node, depth int)
	walk = func(n *yamlv3.Node, depth int) {
		if depth > maxYAMLDepth {
			return
		}
		for i, c := range n.Content {
			if n.Kind == yamlv3.MappingNode && i%2 == 0 && c.Value == "delimiter" && i+1 < len(n.Content) {
				if v := n.Content[i+1]; v.Kind == yamlv3.ScalarNode && v.Value != "" {
					s.delimiters = append(s.delimiters, v.Value)
				}
			}
			walk(c, depth+1)
		}
	}
	walk(root, 0)
}

// document adds what could be Secret content in d: the sensitive fields of
// an object of kind Secret (of any apiVersion, or an item of a List); for
// a document that mentions a Secret but does not convert to JSON, every
// scalar in it but its apiVersion, kind, name and namespace.
func (s *secretValues) document(d document) {
	root, parsed := parseDocument(d)
	s.parsedDocument(d, root, parsed)
}

// parsedDocument is document of d parsed as YAML 1.2 (parseDocument):
// only a document whose kind may be Secret or a List is converted.
func (s *secretValues) parsedDocument(d document, root *yamlv3.Node, parsed bool) {
	switch kind := kindOf(root); {
	case parsed && root == nil:
		return
	case parsed && kind != "Secret" && kind != "?" && !strings.HasSuffix(kind, "List"):
		return
	case !parsed && !mentionsSecret(d.body):
		return
	}
	js, err := yaml.YAMLToJSON(d.body)
	var v any
	if err != nil || utiljson.Unmarshal(js, &v) != nil {
		s.add(documentScalars(d.body)...)
		return
	}
	m, _ := v.(map[string]any)
	s.object(m)
	items, _ := m["items"].([]any)
	for _, item := range items {
		im, _ := item.(map[string]any)
		s.object(im)
	}
}

// object adds the sensitive fields of obj when its kind is Secret.
func (s *secretValues) object(obj map[string]any) {
	if kind, _ := obj["kind"].(string); kind == "Secret" {
		s.add(sensitive.SecretValues(obj)...)
	}
}

// patchValues adds the values a JSON 6902 patch (a list of operations)
// writes, as the values of a Secret's data: the patch may target one.
func (s *secretValues) patchValues(d document) {
	js, err := yaml.YAMLToJSON(d.body)
	var ops []any
	if err != nil || utiljson.Unmarshal(js, &ops) != nil {
		return
	}
	for _, op := range ops {
		if m, ok := op.(map[string]any); ok && m["value"] != nil {
			s.add(sensitive.SecretValues(map[string]any{"data": map[string]any{"value": m["value"]}})...)
		}
	}
}

// generatorFile adds the content of a file a secretGenerator reads: whole,
// and each line's value for an env file.
func (s *secretValues) generatorFile(data []byte, env bool) {
	s.add(string(data), string(bytes.TrimSpace(data)))
	if !env {
		return
	}
	for line := range strings.Lines(string(data)) {
		s.add(strings.TrimSpace(line))
		if _, v, ok := strings.Cut(line, "="); ok {
			v = strings.TrimSpace(v)
			s.add(v, strings.Trim(v, `"'`))
		}
	}
}

// literal adds a secretGenerator literal, "key=value": whole, and its
// value as written and unquoted.
func (s *secretValues) literal(l string) {
	s.add(l)
	if _, v, ok := strings.Cut(l, "="); ok {
		s.add(v, strings.Trim(v, `"'`))
	}
}

// mentionsSecret reports whether a document could describe a Secret or a
// List of them: it holds the word, in any case.
func mentionsSecret(body []byte) bool {
	return bytes.Contains(bytes.ToLower(body), []byte("secret"))
}

// scrubDocument removes from err the values of the Secrets d describes (a
// Secret, or Secrets among a List's items), read as leniently as possible:
// the document may be what failed to decode.
func scrubDocument(d document, err error) error {
	if err == nil {
		return nil
	}
	var s secretValues
	s.document(d)
	return s.scrub(err)
}

// documentScalars returns every scalar value of a document that does not
// convert to JSON (keys are names, shown in plans), but those of its
// apiVersion, kind, metadata.name and metadata.namespace, which name it
// in errors: the values under keys that are no strings are what the
// converter quotes. When the
// document is not even YAML, it returns every value-like piece of its
// lines: what follows a key, a list's dash, or a flow separator.
func documentScalars(body []byte) []string {
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(body, &root); err != nil {
		return textScalars(body)
	}
	var out []string
	var walk func(n *yamlv3.Node, path string)
	walk = func(n *yamlv3.Node, path string) {
		switch n.Kind {
		case yamlv3.ScalarNode:
			if !naming(path) {
				out = append(out, n.Value)
			}
		case yamlv3.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], path+"."+n.Content[i].Value)
			}
		default:
			for _, c := range n.Content {
				walk(c, path+"[]")
			}
		}
	}
	walk(&root, "")
	return out
}

// naming reports whether the field at path names an object rather than
// holding its content.
func naming(path string) bool {
	switch strings.TrimPrefix(strings.TrimPrefix(path, "[]"), ".items[]") {
	case ".apiVersion", ".kind", ".metadata.name", ".metadata.namespace":
		return true
	}
	return false
}

// textScalars returns the value-like pieces of the lines of text that is
// not YAML: after a "key:", a "- ", or between flow separators, unquoted.
func textScalars(body []byte) []string {
	var out []string
	for line := range strings.Lines(string(body)) {
		for _, piece := range strings.FieldsFunc(line, func(r rune) bool { return strings.ContainsRune(",{}[]\r\n", r) }) {
			piece = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(piece), "- "))
			key, v, ok := strings.Cut(piece, ":")
			if ok && (key == "apiVersion" || key == "kind") {
				continue
			}
			if ok {
				piece = strings.TrimSpace(v)
			}
			out = append(out, piece, strings.Trim(piece, `"'`))
		}
	}
	return out
}

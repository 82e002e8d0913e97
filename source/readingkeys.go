package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// keyAt is a key of a mapping as written: where, and how.
type keyAt struct {
	node  *yaml.Node
	index int // position among the mapping's keys
}

// spelling names how a key was written, for messages.
func (k keyAt) spelling() string {
	if plain(k.node) {
		return k.node.Value + " (unquoted)"
	}
	return fmt.Sprintf("%q", k.node.Value)
}

// isMergeKey reports whether k is YAML's merge key, an unquoted <<.
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// key returns the JSON string key k reads as in both readers, or false
// (after recording why) when the readers disagree or it is no string.
func (c *readingChecker) key(k *yaml.Node) (string, bool) {
	switch {
	case k.Kind == yaml.AliasNode:
		c.fail(k, "a key is an alias (*name): write the key out")
		return "", false
	case k.Kind != yaml.ScalarNode:
		c.fail(k, "a key is a %s: a key must be a string; quote it", describeNode(k))
		return "", false
	case k.Value == "<<":
		c.fail(k, "a key named << is taken for YAML's merge key by kustomize, which drops it: rename the key")
		return "", false
	case k.Style&yaml.TaggedStyle != 0:
		if k.ShortTag() != "!!str" {
			c.fail(k, "key %q has the tag %s: a key must be a string; quote it, without a tag", k.Value, k.Tag)
			return "", false
		}
		return k.Value, true
	case !plain(k):
		return k.Value, true
	}
	return c.plainKey(k)
}

// plainKey returns the string an unquoted key reads as, refusing one that
// YAML 1.1 (kubectl apply -f) reads as something other than its own text
// (yes: reads as "true", 0x1F: as "31", ~: as no key at all) and, for
// kustomize, one that YAML 1.2 reads as a number, boolean or time, which
// kustomize cannot turn into JSON.
func (c *readingChecker) plainKey(k *yaml.Node) (string, bool) {
	text := k.Value
	_, yaml11Bool := yaml11Booleans[text]
	if k.Tag == "!!str" && !yaml11Bool && !startsLikeNumber(text) {
		return text, true
	}
	read, err := yaml11Key(text)
	switch {
	case err != nil:
		c.fail(k, "key %q is not a string to kubectl apply -f (null, or a number it cannot convert): quote it", text)
		return "", false
	case read != text:
		c.fail(k, "key %q reads as %q to kubectl apply -f (YAML 1.1) and as %q to kustomize (YAML 1.2): quote it", text, read, text)
		return "", false
	case c.mode == readKustomize && k.Tag != "!!str":
		c.fail(k, "key %q is %s to kustomize (YAML 1.2), which cannot convert it to JSON: quote it", text, describeTag(k.Tag))
		return "", false
	}
	return text, true
}

// startsLikeNumber reports whether an unquoted key could be a number to
// some YAML reader.
func startsLikeNumber(s string) bool {
	return s != "" && strings.IndexByte("0123456789+-.", s[0]) >= 0
}

// yaml11Key returns the JSON key sigs.k8s.io/yaml (kubectl apply -f) makes
// of an unquoted key: the same conversion, of a mapping holding that key
// alone.
func yaml11Key(text string) (string, error) {
	js, err := sigsyaml.YAMLToJSON([]byte(text + ": 0\n"))
	if err != nil {
		return "", err
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil || len(m) != 1 {
		return "", errors.New("not one key")
	}
	for k := range m {
		return k, nil
	}
	return "", nil
}

// describeTag names what a scalar of a YAML 1.2 tag is, for messages.
func describeTag(tag string) string {
	switch tag {
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!timestamp":
		return "a time"
	}
	return "not a string (" + tag + ")"
}

// describeNode names the kind of a node, for messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "scalar"
}

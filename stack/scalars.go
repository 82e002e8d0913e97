package stack

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func (p *parser) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.fail(n, path, "expected a string, found %s", describe(n))
		return ""
	}
	return n.Value
}

func (p *parser) boolean(n *yaml.Node, path string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.fail(n, path, "expected true or false, found %s", describe(n))
	}
	return b
}

func (p *parser) integer(n *yaml.Node, path string, lo, hi int) int {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
		p.fail(n, path, "expected a whole number, found %s", describe(n))
		return 0
	}
	if v < lo || v > hi {
		p.fail(n, path, "%d is out of range: use %d to %d", v, lo, hi)
	}
	return v
}

// byteSize parses a size in bytes: a whole number, or one with a Ki, Mi or
// Gi suffix.
func (p *parser) byteSize(n *yaml.Node, path string) int64 {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, path, "expected a size in bytes, found %s", describe(n))
		return 0
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		p.fail(n, path, "%s", err)
	}
	return v
}

// ParseByteSize parses a render byte budget: a whole number of bytes, or one
// with a Ki, Mi or Gi suffix ("512Mi"), from 1Mi to 64Gi.
func ParseByteSize(s string) (int64, error) {
	num, unit := s, int64(1)
	for suffix, u := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			num, unit = strings.TrimSuffix(s, suffix), u
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > MaxRenderBytes/unit {
		return 0, fmt.Errorf("%q is not a size: use a whole number of bytes, or one with Ki, Mi or Gi (e.g. 512Mi), from 1Mi to 64Gi", s)
	}
	if v*unit < MinRenderBytes {
		return 0, fmt.Errorf("%q is below 1Mi: a render reads at least its kustomization files; use e.g. 256Mi", s)
	}
	return v * unit, nil
}

func (p *parser) duration(n *yaml.Node, path string) time.Duration {
	s := p.str(n, path)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.fail(n, path, "%q is not a duration: use e.g. 30s, 5m or 1h", s)
		return 0
	}
	return d
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "nothing"
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	}
	return n.Value
}

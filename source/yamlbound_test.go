package source

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheckYAML(t *testing.T) {
	deepBlock := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.Repeat(" ", i) + "k:\n")
		}
		return b.String() + strings.Repeat(" ", n) + "v: 1\n"
	}
	manyAliases := "a: &a x\nb: [" + strings.TrimSuffix(strings.Repeat("*a,", maxYAMLAliases+1), ",") + "]\n"
	laughs := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	for i, n := range "bcdefg" {
		prev := string("abcdef"[i])
		laughs += fmt.Sprintf("%c: &%c [%s]\n", n, n, strings.TrimSuffix(strings.Repeat("*"+prev+",", 10), ","))
	}
	for _, tc := range []struct {
		name, data string
		want       string // "" for accepted
	}{
		{"manifest", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n", ""},
		{"small anchors", "base: &b {cpu: 1, mem: 2}\nx: *b\ny: *b\nz: {<<: *b, cpu: 2}\n", ""},
		{"wildcards are not aliases", "rules:\n- verbs: ['*']\n  resources: [\"*\"]\nexpr: rate(x[5m]) * 100\n", ""},
		{"env file", "KEY=value\nOTHER=*thing\n", ""},
		{"binary", "\x00\x01\xff\xfe*a &b", ""},
		{"broken YAML", "a: [\n*b", ""},
		{"billion laughs", laughs, "f.yaml:6: YAML aliases expand this document by more than 200000 nodes"},
		{"bomb in the second document", "a: 1\n---\n" + laughs, "f.yaml:8:"},
		{"too many aliases", manyAliases, "more than 10000 YAML aliases"},
		{"deep block nesting", deepBlock(maxYAMLDepth + 5), "nested more than 1000 levels"},
		{"deep flow nesting", strings.Repeat("[", maxYAMLDepth+5) + strings.Repeat("]", maxYAMLDepth+5), "nested more than 1000 levels"},
		{"deep through an alias", "a: &a " + strings.Repeat("[", 600) + strings.Repeat("]", 600) + "\nb: " + strings.Repeat("[", 600) + "*a" + strings.Repeat("]", 600) + "\n", "nested more than 1000 levels"},
		{"nesting within bounds", deepBlock(300), ""},
		{"bomb in a string", "patch: |\n" + indentBlock(laughs, "  "), "f.yaml:7:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkYAML("f.yaml", []byte(tc.data), yamlBounds{})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func indentBlock(s, indent string) string {
	return indent + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+indent) + "\n"
}

// TestDepthBound checks the cheap bound that lets most files skip the
// parse: it is never below the real depth.
func TestDepthBound(t *testing.T) {
	for _, tc := range []struct {
		data  string
		depth int
	}{
		{"a: 1\n", 2},
		{"a:\n  b:\n    c: 1\n", 4},
		{"- - - - - x\n", 6},
		{"- a:\n  - b:\n    - c: 1\n", 7},
		{"a:\n- b:\n  - c:\n    - 1\n", 7},
		{"[[[[x]]]]", 5},
		{"? - a\n  - b\n: c\n", 4},
	} {
		if got := depthBound([]byte(tc.data)); got < tc.depth {
			t.Errorf("depthBound(%q) = %d, below its depth %d", tc.data, got, tc.depth)
		}
	}
}

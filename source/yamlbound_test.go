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
		{"aliases after quoted keys in flow", quotedKeyLaughs, "f.yaml:6: YAML aliases expand this document by more than 200000 nodes"},
		{"aliases after a line separator in flow", strings.ReplaceAll(laughs, "*", "\u2028*"), "f.yaml:46: YAML aliases expand"}, // YAML counts U+2028 as a line break,
		{"aliases after a next-line character in flow", strings.ReplaceAll(laughs, "*", "\u0085*"), "f.yaml:46: YAML aliases expand"},
		{"bomb escaped in a double-quoted string", "patch: " + escaped(laughs) + "\n", "f.yaml:7: YAML aliases expand"},
		{"bomb escaped twice", "patch: " + escaped("inner: "+escaped(laughs)) + "\n", "f.yaml:8: YAML aliases expand"},
		{"bomb after a separator only kustomize splits at", "a: |\n  x\n---#c\n" + laughs, "f.yaml:9: YAML aliases expand"},
		{"bomb after a separator only the manifest reader splits at", "a: 1\n...\n" + laughs, "f.yaml:8: YAML aliases expand"},
		{"bomb after a separator line with content", "--- |\n" + indentBlock(laughs, "  "), "YAML aliases expand"},
		{"bomb after a broken document", "a: [\n---\n" + laughs, "f.yaml:8: YAML aliases expand"},
		{"bomb in UTF-16", utf16LE(laughs), "YAML aliases expand"},
		{"a long scalar aliased 300 times", longAliased(1<<20, 300), "f.yaml:3: YAML aliases expand this document by more than 16777216 bytes"},
		{"a long key aliased 200 times", "data:\n  ? &k " + strings.Repeat("k", 1<<20) + "\n  : x\n" + strings.Repeat("  ? *k\n  : y\n", 200), "YAML aliases expand this document by more than 16777216 bytes"},
		{"a long scalar aliased 10 times", longAliased(1<<20, 10), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkYAML("f.yaml", []byte(tc.data))
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

// quotedKeyLaughs is the billion laughs with every alias right after a
// quoted key in flow style ("k":*a), where no blank starts the alias.
var quotedKeyLaughs = func() string {
	s := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	for i, n := range "bcdefg" {
		prev := string("abcdef"[i])
		s += fmt.Sprintf("%c: &%c [%s]\n", n, n, strings.TrimSuffix(strings.Repeat(`"k":*`+prev+",", 10), ","))
	}
	return s
}()

// escaped writes s as a double-quoted YAML string with & and * escaped:
// its bytes hold neither.
func escaped(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "&", `\x26`, "*", `\x2A`).Replace(s) + `"`
}

// utf16LE encodes s as UTF-16 with a byte order mark, which YAML parsers read.
func utf16LE(s string) string {
	b := []byte{0xff, 0xfe}
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return string(b)
}

// longAliased is a ConfigMap's data with a scalar of n bytes anchored once
// and aliased times times.
func longAliased(n, times int) string {
	var b strings.Builder
	b.WriteString("kind: ConfigMap\ndata:\n  a: &a \"" + strings.Repeat("x", n) + "\"\n")
	for i := range times {
		fmt.Fprintf(&b, "  b%d: *a\n", i)
	}
	return b.String()
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
		{"a: [1]\n---x\nb: [[[[1]]]]\n", 6}, // "---x" cuts no document
	} {
		if got := depthBound([]byte(tc.data)); got < tc.depth {
			t.Errorf("depthBound(%q) = %d, below its depth %d", tc.data, got, tc.depth)
		}
	}
}

// TestMayAlias checks the test that lets a text skip the parse: it is
// true for every text that could hold an alias, or a string that could,
// in any form.
func TestMayAlias(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{
		{"apiVersion: v1\nkind: ConfigMap\n", false},
		{"expr: rate(x[5m]) * 100\n", false},
		{"url: https://x/?a=1&b=2\n", false},
		{`json: "{\"a\": \"b\"}"` + "\n", false},
		{"a: &a 1\nb: *a\n", true},
		{"a: &a 1\nb: [\"k\":*a]\n", true},
		{`p: "\x26a 1\n\x2Aa"`, true},
		{`p: "\u0026a \u002Aa"`, true},
		{`p: "\U00000026a \U0000002Aa"`, true},
		{`p: "q: \"\\x26a x\""`, true},
		{"\xff\xfep\x00:\x00 \x00\\\x00n\x00", true},
	} {
		if got := mayAlias([]byte(tc.data)); got != tc.want {
			t.Errorf("mayAlias(%q) = %v, want %v", tc.data, got, tc.want)
		}
	}
}

// TestDepthBoundCountsBracketsPerDocument checks that the brackets of a
// multi-document stream are counted per document: 3,000 documents of flow
// style are not taken for one deep document (and parsed).
func TestDepthBoundCountsBracketsPerDocument(t *testing.T) {
	data := strings.Repeat("---\nmetadata: {name: a, labels: {a: b}}\nspec: {ports: [{port: 80}]}\n", 3000)
	if got := depthBound([]byte(data)); got > 20 {
		t.Errorf("depthBound = %d for documents of depth 4", got)
	}
}

// TestChunksAreDocuments decides when the readers' chunks of a stream are
// its documents, so that measuring the stream measures them.
func TestChunksAreDocuments(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{
		{"a: 1\n", true},
		{"a: 1\n---\nb: 2\n", true},
		{"--- # first\na: 1\n---  \r\nb: 2\n", true},
		{"a: |\n  x\n---#c\nb: 2\n", false}, // kyaml cuts, a YAML decoder does not
		{"--- |\n  x\n", false},             // a document starting on the marker's line
		{"a: 1\n...\nb: 2\n", false},
		{"\xff\xfea\x00:\x00 \x001\x00", false},
	} {
		if got := chunksAreDocuments([]byte(tc.data)); got != tc.want {
			t.Errorf("chunksAreDocuments(%q) = %v, want %v", tc.data, got, tc.want)
		}
	}
}

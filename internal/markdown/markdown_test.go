package markdown

import (
	"strings"
	"testing"
)

const wj = wordJoiner

func TestEscape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		escape  func(string) string
		in, out string
	}{
		{"text plain", Text, "ConfigMap/n/a", `ConfigMap/n/a`},
		{"text path", Text, "spec.clusterIP cannot be changed (immutable)", `spec.clusterIP cannot be changed \(immutable\)`},
		{"text pipe", Text, "a|b", `a\|b`},
		{"text comment", Text, "<!-- hide", `\<\!-- hide`},
		{"text comment end", Text, "x --> y", `x --\> y`},
		{"text mention", Text, "@acme/admins", `\@` + wj + `acme/admins`},
		{"text email", Text, "a@b.example", `a\@` + wj + `b.example`},
		{"text issue", Text, "fixes #12", `fixes \#` + wj + `12`},
		{"text GH issue", Text, "see GH-12 and gh-3", "see GH" + wj + "-12 and gh" + wj + "-3"},
		{"html GH issue", HTML, "GH-12", "GH" + wj + "-12"},
		{"text link", Text, "[x](https://e.example)", `\[x\]\(https\:` + wj + `//e.example\)`},
		{"text image", Text, "![i](u)", `\!\[i\]\(u\)`},
		{"text bare url", Text, "www.e.example", `www` + wj + `.e.example`},
		{"text entity", Text, "&#64;team", `\&\#` + wj + `64;team`},
		{"text heading", Text, "# big", `\#` + wj + ` big`},
		{"text html", Text, "<img src=x>", `\<img src=x\>`},
		{"text list", Text, "- item", `\- item`},
		{"text ordered list", Text, "12. item", `12\. item`},
		{"text quote", Text, "> q", `\> q`},
		{"text strike math emoji", Text, "~~x~~ $y$ :z:", `\~\~x\~\~ \$y\$ \:z\:`},
		{"text newline", Text, "a\nb\r\n\r\nc", `a b    c`},
		{"text leading spaces", Text, "    code", `code`},
		{"text backslash", Text, `a\`, `a\\`},
		{"text emphasis", Text, "**b** _i_", `\*\*b\*\* \_i\_`},
		{"text bidi", Text, "a\u202eb", "a\ufffdb"},
		{"text unicode", Text, "é ⚠", "é ⚠"},

		{"code plain", Code, "ConfigMap/n/a", "`ConfigMap/n/a`"},
		{"code backtick", Code, "a`b", "``a`b``"},
		{"code backticks", Code, "a``b`", "``` a``b` ```"},
		{"code edge backtick", Code, "`x", "`` `x ``"},
		{"code spaces", Code, " x ", "`  x  `"},
		{"code comment", Code, "<!-- hide", "`<!-- hide`"},
		{"code newline", Code, "a\n</details>", "`a </details>`"},
		{"code empty", Code, "", "` `"},
		{"code pipe", Code, "a|b", "`a|b`"},

		{"cell code pipe", CellCode, "a|b", "`a\\|b`"},
		{"cell code escaped pipe", CellCode, `a\|b`, "`a\\\\|b`"},
		{"cell code backtick", CellCode, "`|`", "`` `\\|` ``"},

		{"html comment", HTML, "<!-- hide", "&lt;!-- hide"},
		{"html tags", HTML, "</summary></details><details open>", "&lt;/summary&gt;&lt;/details&gt;&lt;details open&gt;"},
		{"html quotes", HTML, `a"b'c&d`, "a&#34;b&#39;c&amp;d"},
		{"html mention", HTML, "@org/team", "@" + wj + "org/team"},
		{"html url", HTML, "https://e.example", "https:" + wj + "//e.example"},
		{"html blank line", HTML, "a\n\nb", "a  b"},

		{"comment marker", Comment, "gantry:plan stack=shop", "<!-- gantry:plan stack=shop -->"},
		{"comment end", Comment, "x --> y", "<!-- x --&gt; y -->"},
		{"comment open", Comment, "<!-- y", "<!-- &lt;!-- y -->"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.escape(tc.in); got != tc.out {
				t.Errorf("escape(%q) = %q, want %q", tc.in, got, tc.out)
			}
		})
	}
}

func TestFence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"plain", []string{"+ a: 1"}, "```diff\n+ a: 1\n```\n"},
		{"fence", []string{"```"}, "````diff\n```\n````\n"},
		{"indented fence", []string{"  `````  ", "x"}, "``````diff\n  `````  \nx\n``````\n"},
		{"fence inside a line", []string{"+ v: ```", "~~~"}, "```diff\n+ v: ```\n~~~\n```\n"},
		{"carriage return", []string{"a\r```"}, "```diff\na␍```\n```\n"},
		{"controls", []string{"a\x00\x1b\x7f"}, "```diff\na␀␛␡\n```\n"},
		{"html", []string{"</details><!--"}, "```diff\n</details><!--\n```\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Fence("diff", tc.lines); got != tc.want {
				t.Errorf("Fence(%q) =\n%s\nwant\n%s", tc.lines, got, tc.want)
			}
		})
	}
}

// TestRoundTrip: what a reader sees of Text and Code is the input, on one
// line, with word joiners where links were defused.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range hostile {
		want := strings.TrimSpace(oneLine(in))
		if got := strings.ReplaceAll(unescapeText(Text(in)), wj, ""); got != want {
			t.Errorf("Text(%q) reads %q", in, got)
		}
		if got := unCode(t, Code(in)); got != oneLine(in) && in != "" {
			t.Errorf("Code(%q) reads %q", in, got)
		}
	}
}

// hostile are strings that try every construct of Markdown and GitHub.
var hostile = []string{
	"<!-- hide the rest", "-->", "```", "~~~", "`", "``a```b`", "a|b|c", `\|`, "@acme/admins", "[x](https://e.example)",
	"![i](https://e.example/i.png)", "<details open><summary>x</summary>", "</details>", "# h", "> q", "- l", "1. l",
	"**b**", "a\nb", "a\r\n\r\nb", "&#64;team", "&lt;", "<img src=x onerror=alert(1)>", "www.e.example", "#1",
	"\u202egnp.exe", "\\", " ` ", "x\x00y",
}

// unescapeText undoes Text's backslash escapes, as CommonMark reads them.
func unescapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && isPunct(s[i+1]) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unCode reads a code span as CommonMark does: the content between equal
// backtick runs, one space stripped from each side when both have one.
func unCode(t *testing.T, span string) string {
	t.Helper()
	n := longestRun(span[:strings.IndexFunc(span, func(r rune) bool { return r != '`' })], '`')
	inner := span[n : len(span)-n]
	if strings.Repeat("`", n) != span[len(span)-n:] || strings.Contains(inner, "\n") {
		t.Fatalf("not a code span: %q", span)
	}
	for i := 0; i < len(inner); {
		j := i
		for j < len(inner) && inner[j] == '`' {
			j++
		}
		if j-i == n {
			t.Fatalf("code span %q closes early", span)
		}
		i = max(j, i+1)
	}
	if len(inner) > 1 && inner[0] == ' ' && inner[len(inner)-1] == ' ' && strings.Trim(inner, " ") != "" {
		inner = inner[1 : len(inner)-1]
	}
	return inner
}

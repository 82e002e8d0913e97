package render

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/plantest"
)

// hostileNames try every construct of Markdown, HTML and GitHub.
var hostileNames = []string{
	"<!-- hide the rest", "x-->y", "```", "a`b``c", "a|b|c", `a\|b`, "@acme/admins", "[x](https://e.example)",
	"![i](https://e.example/i.png)", "</summary></details><details open><summary>forged", "# heading", "a\nb\r\n\r\n# c",
	"&#64;team", "<img src=x onerror=alert(1)>", "www.e.example", "#1", "\u202egnp.exe", `\`, "**b**", "<!-- gantry:plan stack=shop -->",
}

// hostilePlan changes an object per hostile name, in its kind, namespace
// and name, with hostile values, reasons, owners, and a hostile source.
func hostilePlan(t *testing.T) *plan.Plan {
	t.Helper()
	p := plantest.Example(t)
	p.Source = plan.Source{Repo: "https://e.example/`x`<!--|@acme/admins", Ref: "main`<!--", Commit: "0123456789abcdef0123456789abcdef01234567", Path: "deploy\n# x|y"}
	p.Cluster, p.Options.Namespace = "https://c.example/<!--", "n|`<!--"
	p.Held = "held at revision 3 <!-- [x](https://e.example) @acme/admins"
	p.Changes, p.Destructive = nil, nil
	value := "line\n```\n  ```\n</details>\n<!--\n~~~\r```"
	for i, name := range hostileNames {

		ref := object.Ref{Group: "e.example", Kind: "Kind" + name, Namespace: "ns" + name, Name: name}
		obj := func(v string) *unstructured.Unstructured {
			return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "e.example/v1", "kind": "Kind" + name,
				"metadata": map[string]any{"name": name, "namespace": "ns" + name}, "data": map[string]any{"v": v + name, "k" + name: name, "block": "a\n```\n</details>\n" + v}}}
		}
		ch := plan.Change{Ref: ref, APIVersion: "e.example/v1", Action: []plan.Action{plan.ActionCreate, plan.ActionUpdate, plan.ActionDelete, plan.ActionReplace}[i%4]}
		switch ch.Action {
		case plan.ActionCreate:
			ch.After = obj(value)
		case plan.ActionDelete:
			ch.Before = obj(value)
		default:
			ch.Before, ch.After = obj("old"), obj(value)
		}
		ch.Reason, ch.Owner, ch.VerifiedAtApply = "reason "+name, "owner"+name, "verified "+name
		p.Changes = append(p.Changes, ch)
		p.Destructive = append(p.Destructive, "deletes "+ref.String())
	}
	return p
}

// TestMarkdownHostileNames: a plan whose every string is hostile renders
// as Markdown in which every change is still there and visible — a table
// row, a collapsible block, a code block with every diff line — and
// nothing else: no raw HTML but gantry's, no comment, link, image,
// mention or reference, no line that starts a construct of its own.
func TestMarkdownHostileNames(t *testing.T) {
	t.Parallel()
	p := hostilePlan(t)
	opts := DefaultMarkdownOptions()
	opts.Marker, opts.FullCommand = "gantry:plan stack=shop", "gantry plan --repo "+p.Source.Repo
	got := markdown(t, p, opts)
	doc := readMarkdown(t, got, "gantry:plan stack=shop")
	var wantRows, wantSummaries []string
	var wantLines []int
	for _, ch := range p.Changes {
		wantRows = append(wantRows, oneLineRef(ch.Ref))
		wantSummaries = append(wantSummaries, symbol(ch.Action)+" "+oneLineRef(ch.Ref))
		wantLines = append(wantLines, len(diffLines(ch)))
	}
	if strings.Join(doc.rows, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("table rows read\n%s\nwant\n%s", strings.Join(doc.rows, "\n"), strings.Join(wantRows, "\n"))
	}
	if strings.Join(doc.summaries, "\n") != strings.Join(wantSummaries, "\n") {
		t.Errorf("block summaries read\n%s\nwant\n%s", strings.Join(doc.summaries, "\n"), strings.Join(wantSummaries, "\n"))
	}
	if fmt.Sprint(doc.fenceLines) != fmt.Sprint(wantLines) {
		t.Errorf("code blocks hold %v lines, want %v", doc.fenceLines, wantLines)
	}
	if doc.detailsOpen != len(p.Changes) || doc.detailsClosed != len(p.Changes) {
		t.Errorf("%d <details> opened and %d closed, want %d", doc.detailsOpen, doc.detailsClosed, len(p.Changes))
	}
	golden(t, "markdown/hostile.md", got)
}

// TestMarkdownHostileBudget: escaping grows text; a huge plan of hostile
// names still fits the budget, its table and summary intact.
func TestMarkdownHostileBudget(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	p.Changes, p.Destructive = nil, nil
	long := strings.Repeat("<|`@", 63)
	for i := range 3000 {
		ref := object.Ref{Kind: "Namespace", Name: fmt.Sprintf("%s%04d", long, i)}
		p.Changes = append(p.Changes, plan.Change{Ref: ref, APIVersion: "v1", Action: plan.ActionDelete, Reason: long,
			Before: objtest.Parse(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: n%d}\ndata: {v: %q}\n", i, long))})
		p.Destructive = append(p.Destructive, "deletes "+ref.String())
	}
	opts := DefaultMarkdownOptions()
	opts.Marker = "gantry:plan stack=shop"
	got := markdown(t, p, opts)
	if len(got) > opts.Budget {
		t.Errorf("%d characters, over the budget of %d", len(got), opts.Budget)
	}
	doc := readMarkdown(t, got, opts.Marker)
	if len(doc.rows) == 0 || !strings.Contains(got, "more objects | |") || !strings.Contains(got, "**Plan: 0 to add, 0 to change, 3000 to destroy.**") {
		t.Errorf("%d rows; the cut table does not say how many it left out, or the summary is missing", len(doc.rows))
	}
}

func oneLineRef(r object.Ref) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c < 0x20:
			return ' '
		case c == '\u202e':
			return '\ufffd'
		}
		return c
	}, r.String())
}

// renderedMarkdown is what readMarkdown found.
type renderedMarkdown struct {
	// rows are the objects of the table's rows, as a reader sees them.
	rows []string
	// summaries are the <code> of each block's summary, as seen.
	summaries []string
	// fenceLines counts the lines of each fenced code block.
	fenceLines                 []int
	detailsOpen, detailsClosed int
}

var (
	summaryLine = regexp.MustCompile(`^<details( open)?><summary><code>([^<>]*)</code> ([^<>]*)</summary>$`)
	ownPrefixes = []string{"### gantry plan: ", "**Target:** ", "**Source:** ", "**Commits:** ", "**Plan: ", "**No changes.**", "> ", "| ", "|---"}
)

// readMarkdown reads md as GitHub would, for the constructs gantry writes:
// fenced code blocks (closed by a line of at least as many backticks),
// HTML blocks (only gantry's own lines), and lines of Markdown whose inline
// content (code spans, backslash escapes) it checks for raw HTML, links,
// images, mentions and references outside code.
func readMarkdown(t *testing.T, md, marker string) renderedMarkdown {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("the Markdown read:\n%s", md[:min(len(md), 20000)])
		}
	}()
	var doc renderedMarkdown
	if strings.ContainsRune(md, '\r') {
		t.Errorf("a carriage return ends a line in Markdown too; the plan holds one")
	}
	lines := strings.Split(md, "\n")
	fence, fenced := 0, 0
	for i, line := range lines {
		if fence > 0 {
			if t := strings.TrimRight(strings.TrimLeft(line, " "), " \t"); len(line)-len(strings.TrimLeft(line, " ")) <= 3 && len(t) >= fence && strings.Trim(t, "`") == "" {
				doc.fenceLines, fence = append(doc.fenceLines, fenced), 0
				continue
			}
			fenced++
			continue
		}
		switch {
		case i == 0 && line == "<!-- "+marker+" -->":
		case strings.HasPrefix(line, "```"):
			fence, fenced = len(line)-len(strings.TrimLeft(line, "`")), 0
		case line == "</details>":
			doc.detailsClosed++
		case strings.HasPrefix(line, "<"):
			m := summaryLine.FindStringSubmatch(line)
			if m == nil || lines[i+1] != "" {
				t.Errorf("line %d: HTML gantry does not write: %q", i+1, line)
				continue
			}
			doc.detailsOpen++
			checkSeen(t, i, html.UnescapeString(m[2])+" "+html.UnescapeString(m[3]))
			doc.summaries = append(doc.summaries, strings.ReplaceAll(html.UnescapeString(m[2]), "\u2060", ""))
		case line == "", line == ">", line == "> [!WARNING]", line == "> [!NOTE]", line == "> [!CAUTION]":
		default:
			if !hasAnyPrefix(line, ownPrefixes) {
				t.Errorf("line %d starts a construct gantry does not write: %q", i+1, line)
			}
			if row, ok := tableRow(t, i, line); ok {
				doc.rows = append(doc.rows, row)
			}
			checkSeen(t, i, readInline(t, i, line))
		}
	}
	if fence > 0 {
		t.Errorf("a code block is never closed")
	}
	return doc
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// tableRow reads a row of the table of changes: exactly three cells split
// at unescaped pipes, the object's a code span.
func tableRow(t *testing.T, i int, line string) (string, bool) {
	t.Helper()
	if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| | object") || strings.Contains(line, "more objects") {
		return "", false
	}
	var cells []string
	start := 0
	for j := 0; j < len(line); j++ {
		if line[j] == '|' && (j == 0 || line[j-1] != '\\') {
			cells = append(cells, line[start:j])
			start = j + 1
		}
	}
	if len(cells) != 4 || start != len(line) {
		t.Errorf("line %d: table row of %d cells, want 3: %q", i+1, len(cells)-1, line)
		return "", false
	}
	cell := strings.ReplaceAll(strings.TrimSpace(cells[2]), `\|`, "|")
	return codeContent(t, i, cell), true
}

// codeContent is what a reader sees of a code span.
func codeContent(t *testing.T, i int, span string) string {
	t.Helper()
	n := len(span) - len(strings.TrimLeft(span, "`"))
	if n == 0 || len(span) < 2*n || span[len(span)-n:] != strings.Repeat("`", n) {
		t.Errorf("line %d: not a code span: %q", i+1, span)
		return span
	}
	inner := span[n : len(span)-n]
	if len(inner) > 1 && inner[0] == ' ' && inner[len(inner)-1] == ' ' && strings.Trim(inner, " ") != "" {
		inner = inner[1 : len(inner)-1]
	}
	return inner
}

// readInline returns the text of line outside code spans, as read (escapes
// undone), failing on raw HTML, links and images there.
func readInline(t *testing.T, i int, line string) string {
	t.Helper()
	var out strings.Builder
	for j := 0; j < len(line); j++ {
		c := line[j]
		switch {
		case c == '\\' && j+1 < len(line) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", line[j+1]) >= 0:
			j++
			out.WriteByte(line[j])
		case c == '`':
			n := len(line[j:]) - len(strings.TrimLeft(line[j:], "`"))
			end := closingRun(line, j+n, n)
			if end < 0 {
				out.WriteString(line[j : j+n])
				j += n - 1
				continue
			}
			j = end + n - 1
		case c == '<', c == '[', c == ']', c == '&':
			t.Errorf("line %d: %q outside code at %d: %q", i+1, c, j, line)
			return out.String()
		default:
			out.WriteByte(c)
		}
	}
	return out.String()
}

// closingRun finds the next run of exactly n backticks from j, or -1.
func closingRun(s string, j, n int) int {
	for j < len(s) {
		if s[j] != '`' {
			j++
			continue
		}
		k := j
		for k < len(s) && s[k] == '`' {
			k++
		}
		if k-j == n {
			return j
		}
		j = k
	}
	return -1
}

// mentionLike is what GitHub links in text: @mentions, #references, URLs.
var mentionLike = regexp.MustCompile(`@[A-Za-z0-9]|#[0-9]|://|(?i)www\.`)

func checkSeen(t *testing.T, i int, text string) {
	t.Helper()
	if m := mentionLike.FindString(text); m != "" {
		t.Errorf("line %d: GitHub would link %q in %q", i+1, m, text)
	}
}

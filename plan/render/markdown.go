package render

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	md "github.com/gantryops/gantry/internal/markdown"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// MarkdownOptions shapes a Markdown plan (a pull-request comment).
type MarkdownOptions struct {
	// Budget is the most characters the Markdown may hold; 0 means no limit.
	// The summary and the table of changes always fit (the table is cut
	// first when they alone would not); object diffs follow, one by one,
	// until the next would not fit, and a note says what was left out.
	Budget int
	// FullCommand shows the whole plan; the note on cut diffs names it.
	FullCommand string
	// Marker is put first, as an HTML comment invisible on GitHub, so that
	// the comment can be found again; empty for none.
	Marker string
	// ExpandObjects and ExpandLines: a plan changing at most ExpandObjects
	// objects with at most ExpandLines diff lines in all shows its diffs
	// expanded; a longer one shows them collapsed.
	ExpandObjects, ExpandLines int
}

// DefaultMarkdownOptions fits GitHub's comment limit (65,536 characters)
// with room to spare, and expands the diffs of plans of up to 3 objects
// and 60 lines.
func DefaultMarkdownOptions() MarkdownOptions {
	return MarkdownOptions{Budget: 60000, ExpandObjects: 3, ExpandLines: 60}
}

// maxListed bounds the objects (and reasons) a destructive warning names
// one by one.
const maxListed = 20

// maxInline bounds, in bytes, each string of the plan shown inline (a
// name, a reason, a repository) before it is escaped: an object's name is
// at most 253, so only hostile or broken strings are cut.
const maxInline = 512

// Markdown writes p as GitHub-flavoured Markdown: the stack and its
// target, base → head commits, the summary line, a warning naming what is
// destroyed and why when the plan is destructive, a table of changed
// objects, and each object's diff in a collapsible block, within
// opts.Budget characters. Secret values are masked in the plan already.
//
// Every string of the plan (names, kinds, namespaces, reasons, values,
// the source) comes from the repository or the cluster, so is escaped for
// where it goes (internal/markdown): none can hide the rest of the plan,
// forge its marker, or add links, images or mentions.
func Markdown(w io.Writer, p *plan.Plan, opts MarkdownOptions) error {
	head := markdownHead(p, opts)
	if !p.HasChanges() {
		_, err := io.WriteString(w, head+"**No changes.** The cluster matches the revision.\n")
		return err
	}
	var changed []plan.Change
	lines := 0
	for _, ch := range p.Changes {
		if ch.Action != plan.ActionNoop {
			changed = append(changed, ch)
			lines += len(diffLines(ch))
		}
	}
	// The cut note is at most this long; room for it is kept throughout.
	const noteRoom = 600
	table := markdownTable(changed, opts.Budget-len(head)-noteRoom)
	var out strings.Builder
	out.WriteString(head)
	out.WriteString(table)

	open := len(changed) <= opts.ExpandObjects && lines <= opts.ExpandLines
	shown := 0
	for _, ch := range changed {
		block := markdownDiff(ch, open)
		if opts.Budget > 0 && out.Len()+len(block)+noteRoom > opts.Budget {
			break
		}
		out.WriteString(block)
		shown++
	}
	if shown < len(changed) {
		cmd := opts.FullCommand
		if cmd == "" {
			cmd = "gantry plan --stack " + p.Stack
		}
		fmt.Fprintf(&out, "\n> [!NOTE]\n> The diffs of %d of %d changed objects (from %s on) are not shown, to keep this comment within GitHub's size limit. Run %s to see them all.\n",
			len(changed)-shown, len(changed), code(changed[shown].Ref.String()), code(cmd))
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// markdownHead is everything before the table: the marker, the title, the
// target, the commits, notes and warnings, the summary.
func markdownHead(p *plan.Plan, opts MarkdownOptions) string {
	var b strings.Builder
	if opts.Marker != "" {
		b.WriteString(md.Comment(opts.Marker) + "\n")
	}
	fmt.Fprintf(&b, "### gantry plan: %s\n\n", code(p.Stack))
	target := code(p.Cluster)
	if p.Options.Namespace != "" {
		target += ", namespace " + code(p.Options.Namespace)
	}
	fmt.Fprintf(&b, "**Target:** %s  \n", target)
	switch p.Source.Kind {
	case plan.SourceHelmRepository:
		fmt.Fprintf(&b, "**Source:** chart %s %s (asked %s) from %s  \n", code(p.Source.Path), code(p.Source.Version), code(p.Source.Ref), code(p.Source.Repo))
	case plan.SourceOCIArtifact:
		fmt.Fprintf(&b, "**Source:** artifact %s path %s (asked %s)  \n", code(p.Source.Repo+tagOf(p.Source)), code(p.Source.Path), code(p.Source.Ref))
	default:
		fmt.Fprintf(&b, "**Source:** %s path %s, ref %s  \n", code(p.Source.Repo), code(p.Source.Path), code(p.Source.Ref))
	}
	base := "nothing applied yet"
	if p.BaseCommit != "" {
		base = code(object.ShortSHA(p.BaseCommit)) + " (applied)"
	}
	fmt.Fprintf(&b, "**Commits:** %s → %s\n\n", base, code(object.ShortSHA(p.Source.Commit)))
	if p.IsApproximate() {
		b.WriteString("> [!NOTE]\n> Planned with `--diff=local`: approximate, not verified by the server.\n\n")
	}
	if p.Held != "" {
		fmt.Fprintf(&b, "> [!WARNING]\n> %s\n\n", text(p.Held))
	}
	if p.Rollback != "" {
		fmt.Fprintf(&b, "> [!WARNING]\n> %s.\n\n", text(p.Rollback))
	}
	if !p.HasChanges() {
		return b.String()
	}
	add, change, destroy := p.Summary()
	fmt.Fprintf(&b, "**Plan: %d to add, %d to change, %d to destroy%s.**\n\n", add, change, destroy, hooksToRun(p))
	if len(p.Destructive) > 0 {
		b.WriteString("> [!WARNING]\n> **This plan is destructive** and needs approval before it is applied:\n")
		for i, r := range p.Destructive {
			if i == maxListed {
				fmt.Fprintf(&b, "> - and %d more reasons\n", len(p.Destructive)-maxListed)
				break
			}
			fmt.Fprintf(&b, "> - %s\n", text(r))
		}
		var gone []string
		for _, ch := range p.Changes {
			if ch.Action == plan.ActionDelete || ch.Action == plan.ActionReplace {
				gone = append(gone, fmt.Sprintf("%s (%s)", code(ch.Ref.String()), ch.Action))
			}
		}
		if len(gone) > maxListed {
			gone = append(gone[:maxListed], fmt.Sprintf("and %d more", len(gone)-maxListed))
		}
		fmt.Fprintf(&b, ">\n> Destroyed: %s\n\n", strings.Join(gone, ", "))
	}
	b.WriteString(markdownKnownFailures(p))
	return b.String()
}

// markdownTable lists the changed objects within budget characters (no
// limit for a budget of 0 or less); the rows that do not fit are counted
// in a last row. The first row is always shown.
func markdownTable(changed []plan.Change, budget int) string {
	var b strings.Builder
	b.WriteString("| | object | action |\n|---|---|---|\n")
	for i, ch := range changed {
		note := string(ch.Action)
		if len(ch.Conflicts) > 0 {
			note += " ⚠ conflicts"
		}
		if ch.Drift {
			note += " (drift)"
		}
		if ch.Owner != "" {
			note += " ⛔ owned by stack " + md.CellCode(clip(ch.Owner))
		}
		row := fmt.Sprintf("| `%s` | %s | %s |\n", symbol(ch.Action), md.CellCode(clip(ch.Ref.String())), note)
		if budget > 0 && i > 0 && b.Len()+len(row)+80 > budget { // 80: room for the last row
			fmt.Fprintf(&b, "| | … and %d more objects | |\n", len(changed)-i)
			break
		}
		b.WriteString(row)
	}
	return b.String()
}

// markdownDiff is one object's diff in a collapsible block.
func markdownDiff(ch plan.Change, open bool) string {
	var b strings.Builder
	attr := ""
	if open {
		attr = " open"
	}
	fmt.Fprintf(&b, "\n<details%s><summary><code>%s %s</code> %s</summary>\n\n", attr, symbol(ch.Action), md.HTML(clip(ch.Ref.String())), md.HTML(clip(headline(ch))))
	b.WriteString(md.Fence("diff", diffLines(ch)))
	b.WriteString("\n</details>\n")
	return b.String()
}

// clip cuts s to maxInline bytes (on a character boundary), marking the cut.
func clip(s string) string {
	if len(s) <= maxInline {
		return s
	}
	cut := maxInline
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// code is s, clipped, as a code span.
func code(s string) string { return md.Code(clip(s)) }

// text is s, clipped, as inline Markdown text.
func text(s string) string { return md.Text(clip(s)) }

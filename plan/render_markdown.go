package plan

import (
	"io"
	"strings"

	"github.com/gantryops/gantry/object"
)

// RenderMarkdown writes p as GitHub-flavoured Markdown: the summary line, a
// warning when destructive, a table of changed objects, and each object's
// diff in a collapsible block.
func RenderMarkdown(w io.Writer, p *Plan) error {
	out := &errWriter{w: w}
	add, change, destroy := p.Summary()
	out.printf("### gantry plan: `%s`\n\n", p.Stack)
	out.printf("`%s` at `%s` (commit `%s`), path `%s` → `%s`\n\n", p.Source.Repo, p.Source.Ref, object.ShortSHA(p.Source.Commit), p.Source.Path, p.Cluster)
	if p.Approximate {
		out.printf("> [!NOTE]\n> Planned with `--diff=local`: approximate, not verified by the server.\n\n")
	}
	if p.Held != "" {
		out.printf("> [!WARNING]\n> %s\n\n", p.Held)
	}
	if !p.HasChanges() {
		out.printf("**No changes.** The cluster matches the revision.\n")
		return out.err
	}
	out.printf("**Plan: %d to add, %d to change, %d to destroy.**\n\n", add, change, destroy)
	if len(p.Destructive) > 0 {
		out.printf("> [!WARNING]\n> **This plan is destructive** and needs approval:\n")
		for _, r := range p.Destructive {
			out.printf("> - %s\n", r)
		}
		out.printf("\n")
	}
	out.printf("| | object | action |\n|---|---|---|\n")
	for _, ch := range p.Changes {
		if ch.Action != ActionNoop {
			note := string(ch.Action)
			if len(ch.Conflicts) > 0 {
				note += " ⚠ conflicts"
			}
			if ch.Drift {
				note += " (drift)"
			}
			out.printf("| `%s` | `%s` | %s |\n", symbol(ch.Action), ch.Ref, note)
		}
	}
	for _, ch := range p.Changes {
		if ch.Action == ActionNoop {
			continue
		}
		out.printf("\n<details><summary><code>%s %s</code> %s</summary>\n\n```diff\n", symbol(ch.Action), ch.Ref, headline(ch))
		for _, l := range diffLines(ch) {
			out.printf("%s\n", strings.ReplaceAll(l, "```", "ˋˋˋ"))
		}
		out.printf("```\n\n</details>\n")
	}
	return out.err
}

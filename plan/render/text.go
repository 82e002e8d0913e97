package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/internal/textout"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// TextOptions configures RenderText.
type TextOptions struct {
	// Color adds ANSI colours (for a terminal that wants them).
	Color bool
}

// palette holds the escape sequences of one rendering.
type palette struct{ green, red, yellow, cyan, bold, dim, reset string }

func colours(on bool) palette {
	if !on {
		return palette{}
	}
	return palette{"\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[36m", "\x1b[1m", "\x1b[2m", "\x1b[0m"}
}

// symbol is the Terraform marker of an action.
func symbol(a plan.Action) string {
	switch a {
	case plan.ActionCreate:
		return "+"
	case plan.ActionUpdate, plan.ActionAdopt:
		return "~"
	case plan.ActionDelete:
		return "-"
	case plan.ActionReplace:
		return "-/+"
	}
	return " "
}

// headline says what happens to the object, in Terraform's words.
func headline(c plan.Change) string {
	var s string
	switch {
	case c.Hook != nil:
		s = fmt.Sprintf("will be run as a %s hook (%s, weight %d%s)", c.Hook.Phase, c.Hook.Event, c.Hook.Weight, hookDeletes(*c.Hook))
		return s
	}
	switch c.Action {
	case plan.ActionCreate:
		s = "will be created"
	case plan.ActionUpdate:
		s = "will be updated in-place"
		if c.Drift {
			s = "has drifted from the revision and will be updated in-place"
		}
	case plan.ActionAdopt:
		s = "will be adopted"
	case plan.ActionDelete:
		s = "will be destroyed"
	case plan.ActionReplace:
		s = "must be replaced"
	}
	if c.Reason != "" && c.Action != plan.ActionUpdate {
		s += " (" + c.Reason + ")"
	}
	if c.Owner != "" {
		s += fmt.Sprintf(" — REFUSED at apply: it belongs to stack %q", c.Owner)
	}
	if c.VerifiedAtApply != "" {
		s += " (verified at apply: " + c.VerifiedAtApply + ")"
	}
	return s
}

// Text writes p the way `terraform plan` reads: a header per changed
// object with a unified YAML diff, warnings, and the summary line.
func Text(w io.Writer, p *plan.Plan, opts TextOptions) error {
	c := colours(opts.Color)
	out := &textout.Writer{W: w}
	textHeader(out, p, c)
	if !p.HasChanges() {
		out.Printf("\n%sNo changes.%s The cluster matches the revision.\n", c.green, c.reset)
		renderKept(out, p, c)
		return out.Err
	}
	out.Printf("\ngantry will perform the following actions:\n")
	for _, ch := range p.Changes {
		if ch.Action == plan.ActionNoop {
			continue
		}
		col := map[plan.Action]string{plan.ActionCreate: c.green, plan.ActionUpdate: c.yellow, plan.ActionDelete: c.red, plan.ActionReplace: c.red}[ch.Action]
		out.Printf("\n  %s# %s%s %s\n", c.bold, ch.Ref, c.reset, headline(ch))
		if len(ch.Conflicts) > 0 {
			for _, cf := range ch.Conflicts {
				out.Printf("  %s! %s is owned by field manager %q%s\n", c.yellow, cf.Field, cf.Manager, c.reset)
			}
		}
		out.Printf("%s%3s%s %s\n", col, symbol(ch.Action), c.reset, ch.Ref)
		for _, line := range diffLines(ch) {
			switch {
			case strings.HasPrefix(line, "+"):
				out.Printf("    %s%s%s\n", c.green, line, c.reset)
			case strings.HasPrefix(line, "-"):
				out.Printf("    %s%s%s\n", c.red, line, c.reset)
			case strings.HasPrefix(line, "@@"):
				out.Printf("    %s%s%s\n", c.cyan, line, c.reset)
			default:
				out.Printf("    %s\n", line)
			}
		}
	}
	renderKnownFailures(out, p, c)
	if len(p.Destructive) > 0 {
		out.Printf("\n%sWarning: this plan is destructive%s and needs approval before it is applied:\n", c.red, c.reset)
		for _, r := range p.Destructive {
			out.Printf("  - %s\n", r)
		}
	}
	renderKept(out, p, c)
	add, change, destroy := p.Summary()
	out.Printf("\n%sPlan:%s %d to add, %d to change, %d to destroy%s.\n", c.bold, c.reset, add, change, destroy, hooksToRun(p))
	return out.Err
}

func renderKept(out *textout.Writer, p *plan.Plan, c palette) {
	first := true
	for _, ch := range p.Changes {
		if ch.Action != plan.ActionNoop || ch.Reason == "" {
			continue
		}
		if first {
			out.Printf("\n%sNote:%s objects the revision no longer renders that are kept:\n", c.yellow, c.reset)
			first = false
		}
		out.Printf("  %s: %s\n", ch.Ref, ch.Reason)
	}
}

// diffLines returns the unified diff of a change's before and after views
// (all additions for a create, all removals for a delete).
func diffLines(ch plan.Change) []string {
	before, after := toYAML(ch.Before), toYAML(ch.After)
	switch {
	case before == "":
		return prefixed("+ ", after)
	case after == "":
		return prefixed("- ", before)
	}
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(before), B: difflib.SplitLines(after), Context: 3,
	})
	if err != nil {
		return []string{"(diff unavailable: " + err.Error() + ")"}
	}
	// Without file names difflib writes no "---"/"+++" header: every line
	// is the diff's, "+++x: y" (an added key "++x") included.
	var out []string
	for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
		if len(l) > 1 && (l[0] == '+' || l[0] == '-') {
			l = l[:1] + " " + l[1:]
		} else if len(l) > 0 && l[0] == ' ' {
			l = "  " + l[1:]
		}
		out = append(out, l)
	}
	return out
}

func prefixed(prefix, text string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		out = append(out, prefix+l)
	}
	return out
}

func toYAML(u *unstructured.Unstructured) string {
	if u == nil {
		return ""
	}
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		return fmt.Sprintf("(cannot show: %v)\n", err)
	}
	return string(b)
}

// tagOf is ":TAG" of an artifact resolved from a tag or a range, "" of
// one asked by digest.
func tagOf(src plan.Source) string {
	if src.Version == "" {
		return ""
	}
	return ":" + src.Version
}

// textHeader writes what a plan is of (the stack, its source, the
// cluster) and the notes that frame it: a hold, a rollback, a restore, an
// approximate plan.
func textHeader(out *textout.Writer, p *plan.Plan, c palette) {
	switch p.Source.Kind {
	case plan.SourceHelmRepository:
		out.Printf("Stack %s%s%s: chart %s %s (asked %s) from %s (digest %s)\nCluster: %s\n", c.bold, p.Stack, c.reset, p.Source.Path, p.Source.Version, p.Source.Ref, p.Source.Repo, object.ShortSHA(p.Source.Commit), p.Cluster)
	case plan.SourceOCIArtifact:
		out.Printf("Stack %s%s%s: artifact %s%s (asked %s, digest %s), path %s\nCluster: %s\n", c.bold, p.Stack, c.reset, p.Source.Repo, tagOf(p.Source), p.Source.Ref, object.ShortSHA(p.Source.Commit), p.Source.Path, p.Cluster)
	default:
		out.Printf("Stack %s%s%s: %s at %s (commit %s), path %s\nCluster: %s\n", c.bold, p.Stack, c.reset, p.Source.Repo, p.Source.Ref, object.ShortSHA(p.Source.Commit), p.Source.Path, p.Cluster)
	}
	for _, d := range p.Source.Dependencies {
		if f := strings.Fields(d); len(f) == 3 {
			out.Printf("Chart dependency fetched: %s %s (digest %s)\n", f[0], f[1], object.ShortSHA(f[2]))
		}
	}
	if p.Held != "" {
		out.Printf("\n%sWarning:%s %s\n", c.yellow, c.reset, p.Held)
	}
	if p.Rollback != "" {
		out.Printf("\n%sWarning:%s %s.\n", c.yellow, c.reset, p.Rollback)
	}
	if p.RestoredFrom != "" {
		out.Printf("\n%sRestore%s of %s (ID %s), loaded from the database.\n", c.bold, c.reset, p.Source.Ref, p.RestoredFrom)
	}
	if p.IsApproximate() {
		out.Printf("\n%sNote:%s planned with --diff=local: changes are predicted from managed fields and the cluster's\nOpenAPI schema without asking the server. The plan is approximate: server defaults, admission\nwebhooks and immutable fields are not checked.\n", c.yellow, c.reset)
	}
}

// hookDeletes says when a hook's object is deleted, by its policies.
func hookDeletes(h plan.Hook) string {
	var when []string
	if h.Deletes(plan.DeleteBeforeCreation) {
		when = append(when, "the last run's deleted first")
	}
	if h.Deletes(plan.DeleteOnSuccess) {
		when = append(when, "deleted when it succeeds")
	}
	if h.Deletes(plan.DeleteOnFailure) {
		when = append(when, "deleted when it fails")
	}
	if len(when) == 0 {
		return ""
	}
	return "; " + strings.Join(when, ", ")
}

// hooksToRun is ", N hooks to run" for a plan that runs hooks.
func hooksToRun(p *plan.Plan) string {
	switch n := p.Hooks(); n {
	case 0:
		return ""
	case 1:
		return ", 1 hook to run"
	default:
		return fmt.Sprintf(", %d hooks to run", n)
	}
}

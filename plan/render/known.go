package render

import (
	"fmt"
	"strings"

	"github.com/gantryops/gantry/internal/textout"
	"github.com/gantryops/gantry/plan"
)

// renderKnownFailures says, in the text plan, that the plan cannot be
// applied as it is, why, and what to do (KnownFailures).
func renderKnownFailures(out *textout.Writer, p *plan.Plan, c palette) {
	failures := plan.KnownFailures(p)
	if len(failures) == 0 {
		return
	}
	out.Printf("\n%sError: this plan cannot be applied as it is.%s %s\n", c.red, c.reset, plan.CannotApply)
	for _, f := range failures {
		out.Printf("  - %s: %s.\n    To apply: %s.\n", f.Ref, f.Reason, f.Fix)
	}
}

// markdownKnownFailures is the Markdown plan's caution that the plan cannot
// be applied as it is (KnownFailures), listing at most maxListed of them.
func markdownKnownFailures(p *plan.Plan) string {
	failures := plan.KnownFailures(p)
	if len(failures) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "> [!CAUTION]\n> **This plan cannot be applied as it is.** %s\n", plan.CannotApply)
	for i, f := range failures {
		if i == maxListed {
			fmt.Fprintf(&b, "> - and %d more\n", len(failures)-maxListed)
			break
		}
		// Reasons and fixes quote names from the repository and the
		// cluster: escaped like every other string of the Markdown plan.
		fmt.Fprintf(&b, "> - %s: %s. To apply: %s.\n", code(f.Ref.String()), text(f.Reason), text(f.Fix))
	}
	b.WriteString("\n")
	return b.String()
}

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/stack"
)

// planFlags are gantry plan's flags.
type planFlags struct {
	stackFlags
	output, out, diff string
	detailedExitCode  bool
	noColor           bool
}

func newPlanCommand(g *globals) *cobra.Command {
	f := &planFlags{}
	cmd := &cobra.Command{
		Use:   "plan [--stack NAME | --repo REPO --ref REF --path PATH | --chart-repo URL --chart NAME --chart-version V | --artifact oci://HOST/PATH:TAG]",
		Short: "Show what applying a stack's revision would change in the cluster",
		Long: `Plan renders the stack's revision and computes exactly what applying it would
do to the live cluster: objects to create, update in place, replace (immutable
fields) and delete (no longer rendered), with a diff per object. It changes
nothing in the cluster.

A stack comes from gantry.yaml (--stack NAME, --config FILE), or ad hoc from
--repo, --ref and --path; from a chart of a Helm repository or OCI registry
(--chart-repo, --chart, --chart-version); or from an OCI artifact
(--artifact, --path inside it). --stack then names it; --namespace is its
target namespace for objects that name none.

--diff auto (default) skips objects the no-op memo proves unchanged and asks
the server (dry-run) about the rest; server dry-runs everything; local predicts
without dry-runs, so read-only credentials suffice, and is approximate.`,
		Example: `  gantry plan --stack shop
  gantry plan --repo . --ref main --path deploy --namespace web -o markdown
  gantry plan --artifact oci://registry.example.com/manifests/web:v1.4.2 --path prod --namespace web
  gantry plan --stack shop --out shop.plan --detailed-exitcode`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd, g, f) },
	}
	fl := cmd.Flags()
	f.stackFlags.add(fl, "plan")
	fl.StringVarP(&f.output, "output", "o", "text", "output: text, json or markdown")
	fl.StringVar(&f.out, "out", "", "also write the plan to `FILE`, to apply with gantry apply FILE (holds Secret data: written as a new 0600 file)")
	fl.StringVar(&f.diff, "diff", string(plan.DiffAuto), "how to compute changes: auto, server or local")
	fl.BoolVar(&f.detailedExitCode, "detailed-exitcode", false, "exit 0 with no changes, 1 on error, 2 with changes")
	fl.BoolVar(&f.noColor, "no-color", false, "no colours in text output (also NO_COLOR)")
	return cmd
}

func runPlan(cmd *cobra.Command, g *globals, f *planFlags) error {
	if err := oneOf("output", f.output, "text", "json", "markdown"); err != nil {
		return err
	}
	if err := oneOf("diff", f.diff, "auto", "server", "local"); err != nil {
		return err
	}
	s, err := g.resolveStack(cmd, &f.stackFlags)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	sess, err := g.newSession(ctx, sessionOptions{gitCacheDir: f.gitCacheDir, stacks: []stack.Stack{*s}})
	if err != nil {
		return err
	}
	defer sess.Close()
	p, err := sess.engine.Plan(ctx, engine.PlanRequest{Stack: *s, Cluster: sess.cluster, Mode: plan.DiffMode(f.diff), Actor: g.actorName()})
	if err != nil {
		return err
	}
	if f.out != "" {
		if err := writePlanfile(f.out, p); err != nil {
			return err
		}
	}
	if err := renderPlan(g.stdout, p, f.output, g.colour(f.noColor)); err != nil {
		return err
	}
	printStats(g, p)
	if f.out != "" {
		fmt.Fprintf(g.stderr, "Saved the plan to %s; apply exactly these changes with: gantry apply %s\n", f.out, f.out)
	}
	if f.detailedExitCode && p.HasChanges() {
		return exitCode(2)
	}
	return nil
}

// adHocName derives a stack name from the repository and path: the last
// path element, or the repository's base name.
func adHocName(repo, path string) string {
	base := filepath.Base(filepath.Clean(path))
	if base == "." || base == "/" {
		base = strings.TrimSuffix(filepath.Base(strings.TrimRight(repo, "/")), ".git")
	}
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if name == "" {
		name = "adhoc"
	}
	if len(name) > 63 {
		name = strings.Trim(name[:63], "-")
	}
	return name
}

// printStats writes what planning cost to stderr.
func printStats(g *globals, p *plan.Plan) {
	fmt.Fprintf(g.stderr, "Planned %d objects in %s: %d LIST, %d dry-run, %d memo hits, %d API requests.\n",
		p.Stats.Objects, p.Stats.Duration.Round(1e6), p.Stats.Lists, p.Stats.DryRuns, p.Stats.MemoHits, p.Stats.Requests)
}

func renderPlan(w io.Writer, p *plan.Plan, output string, color bool) error {
	switch output {
	case "json":
		return render.JSON(w, p)
	case "markdown":
		opts := render.DefaultMarkdownOptions()
		opts.FullCommand = "gantry show " + p.ID
		return render.Markdown(w, p, opts)
	}
	return render.Text(w, p, render.TextOptions{Color: color})
}

// writePlanfile writes the plan to path as a private file (0600, replaced
// atomically, never through a symlink): it holds Secret values.
func writePlanfile(path string, p *plan.Plan) error {
	return writePrivate(path, func(w io.Writer) error { return planfile.Write(w, p) })
}

// colour reports whether text output should be coloured: only on a
// terminal, and never with --no-color or NO_COLOR (https://no-color.org).
func (g *globals) colour(noColor bool) bool {
	if noColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := g.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/stack"
)

// planFlags are gantry plan's flags.
type planFlags struct {
	config, stackName string
	repo, ref, path   string
	forceConflicts    bool
	output, out, diff string
	detailedExitCode  bool
	noColor           bool
	allowRemote       bool
	gitCacheDir       string
}

func newPlanCommand(g *globals) *cobra.Command {
	f := &planFlags{}
	cmd := &cobra.Command{
		Use:   "plan [--stack NAME | --repo REPO --ref REF --path PATH]",
		Short: "Show what applying a stack's revision would change in the cluster",
		Long: `Plan renders the stack's revision and computes exactly what applying it would
do to the live cluster: objects to create, update in place, replace (immutable
fields) and delete (no longer rendered), with a diff per object. It changes
nothing in the cluster.

A stack comes from gantry.yaml (--stack NAME, --config FILE), or ad hoc from
--repo, --ref and --path (--stack then names it; --namespace is its target
namespace for objects that name none).

--diff auto (default) skips objects the no-op memo proves unchanged and asks
the server (dry-run) about the rest; server dry-runs everything; local predicts
without dry-runs, so read-only credentials suffice, and is approximate.`,
		Example: `  gantry plan --stack shop
  gantry plan --repo . --ref main --path deploy --namespace web -o markdown
  gantry plan --stack shop --out shop.plan --detailed-exitcode`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "gantry.yaml", "stack config file")
	fl.StringVar(&f.stackName, "stack", "", "stack to plan (from --config), or the name of an ad hoc stack")
	fl.StringVar(&f.repo, "repo", "", "ad hoc: Git repository (path, file://, https:// or ssh://)")
	fl.StringVar(&f.ref, "ref", stack.DefaultRef, "ad hoc: branch, tag, HEAD or full commit SHA")
	fl.StringVar(&f.path, "path", ".", "ad hoc: path inside the repository")
	fl.BoolVar(&f.forceConflicts, "force-conflicts", false, "ad hoc: take over fields other field managers own")
	fl.BoolVar(&f.allowRemote, "allow-remote-bases", false, "ad hoc: let kustomizations fetch remote bases")
	fl.StringVarP(&f.output, "output", "o", "text", "output: text, json or markdown")
	fl.StringVar(&f.out, "out", "", "also write the plan to this file, for `gantry apply FILE` (holds Secret data: mode 0600)")
	fl.StringVar(&f.diff, "diff", string(plan.DiffAuto), "how to compute changes: auto, server or local")
	fl.BoolVar(&f.detailedExitCode, "detailed-exitcode", false, "exit 0 with no changes, 1 on error, 2 with changes")
	fl.BoolVar(&f.noColor, "no-color", false, "no colours in text output (also NO_COLOR)")
	fl.StringVar(&f.gitCacheDir, "git-cache-dir", "", "Git cache directory (default $XDG_CACHE_HOME/gantry/git)")
	return cmd
}

func runPlan(cmd *cobra.Command, g *globals, f *planFlags) error {
	if err := oneOf("output", f.output, "text", "json", "markdown"); err != nil {
		return err
	}
	if err := oneOf("diff", f.diff, "auto", "server", "local"); err != nil {
		return err
	}
	s, err := g.resolveStack(cmd, f)
	if err != nil {
		return err
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	ctx := cmd.Context()

	restConfig, err := g.kube.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w: pass --kubeconfig or set KUBECONFIG", err)
	}
	kopts := kube.DefaultOptions()
	kopts.Logger = log
	if g.kube.CacheDir != nil {
		kopts.DiscoveryCacheDir = *g.kube.CacheDir // kubectl's --cache-dir, shared with it
	}
	cluster, err := kube.Connect(ctx, restConfig, kopts)
	if err != nil {
		return err
	}
	store, err := g.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	fetch := source.DefaultFetchOptions()
	if f.gitCacheDir != "" {
		fetch.CacheDir = f.gitCacheDir
	}
	fetch.Auth, fetch.Logger = source.AuthFromEnv(), log

	p, err := engine.New(store, source.NewFetcher(fetch), log).Plan(ctx, engine.PlanRequest{Stack: *s, Cluster: cluster, Mode: plan.DiffMode(f.diff)})
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
	fmt.Fprintf(g.stderr, "Planned %d objects in %s: %d LIST, %d dry-run, %d memo hits, %d API requests.\n",
		p.Stats.Objects, p.Stats.Duration.Round(1e6), p.Stats.Lists, p.Stats.DryRuns, p.Stats.MemoHits, p.Stats.Requests)
	if f.out != "" {
		fmt.Fprintf(g.stderr, "Saved the plan to %s; apply exactly these changes with: gantry apply %s\n", f.out, f.out)
	}
	if f.detailedExitCode && p.HasChanges() {
		return exitCode(2)
	}
	return nil
}

// resolveStack finds the stack in the config file, or builds an ad hoc one.
func (g *globals) resolveStack(cmd *cobra.Command, f *planFlags) (*stack.Stack, error) {
	adHoc := f.repo != ""
	nsFlag := cmd.Flags().Lookup("namespace")
	if !adHoc {
		if nsFlag != nil && nsFlag.Changed {
			return nil, errors.New("--namespace applies to ad hoc plans (--repo); for a stack in gantry.yaml set target.namespace there")
		}
		for _, name := range []string{"ref", "path", "force-conflicts", "allow-remote-bases"} {
			if cmd.Flags().Lookup(name).Changed {
				return nil, fmt.Errorf("--%s applies to ad hoc plans (with --repo); for a stack in gantry.yaml set it there", name)
			}
		}
		cfg, err := stack.Load(f.config)
		if err != nil {
			return nil, err
		}
		if f.stackName == "" {
			if len(cfg.Stacks) == 1 {
				return &cfg.Stacks[0], nil
			}
			return nil, fmt.Errorf("%s declares %d stacks (%s): choose one with --stack", f.config, len(cfg.Stacks), strings.Join(cfg.Names(), ", "))
		}
		s, ok := cfg.Find(f.stackName)
		if !ok {
			return nil, fmt.Errorf("no stack %q in %s (it declares: %s)", f.stackName, f.config, strings.Join(cfg.Names(), ", "))
		}
		return s, nil
	}
	name := f.stackName
	if name == "" {
		name = adHocName(f.repo, f.path)
	}
	ns := ""
	if g.kube.Namespace != nil {
		ns = *g.kube.Namespace
	}
	src := stack.Source{Repo: f.repo, Ref: f.ref, Path: f.path, AllowRemoteBases: f.allowRemote}
	return stack.AdHoc(name, src, ns, f.forceConflicts)
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

func renderPlan(w io.Writer, p *plan.Plan, output string, color bool) error {
	switch output {
	case "json":
		return plan.RenderJSON(w, p)
	case "markdown":
		return plan.RenderMarkdown(w, p)
	}
	return plan.RenderText(w, p, plan.TextOptions{Color: color})
}

func writePlanfile(path string, p *plan.Plan) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	if err := plan.WritePlanfile(f, p); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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

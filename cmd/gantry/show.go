package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/history"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
)

func newShowCommand(g *globals) *cobra.Command {
	var output string
	var noColor bool
	cmd := &cobra.Command{
		Use:   "show PLANFILE | PLAN_ID | STACK@REV",
		Short: "Show a saved plan, a recorded plan, or a recorded revision's objects",
		Long: `Show renders, like gantry plan does:
  PLANFILE   a planfile written by "gantry plan --out" (its format version checked; its
             digest, keyed with the stack's key, is checked by gantry apply PLANFILE);
  PLAN_ID    a plan recorded in the database (its ID or first 6+ characters), as it was
             at plan time;
  STACK@REV  the objects of a recorded revision (number or ID, as gantry history shows):
             a list (-o text), the manifests (-o yaml) or JSON (-o json).
Secret values are always masked; no key is needed.`,
		Example: `  gantry show shop.plan
  gantry show 3f2a9c1e
  gantry show shop@3 -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := args[0]
			if stackName, rev, ok := strings.Cut(arg, "@"); ok {
				return showRevision(cmd, g, stackName, rev, output)
			}
			if err := oneOf("output", output, "text", "json", "markdown"); err != nil {
				return err
			}
			p, err := readPlanArg(cmd, g, arg)
			if err != nil {
				return err
			}
			return renderPlan(g.stdout, p, output, g.colour(noColor))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output: text, json or markdown for plans; text, yaml or json for revisions")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "no colours in text output (also NO_COLOR)")
	return cmd
}

// readPlanArg reads a planfile, or else a recorded plan by ID.
func readPlanArg(cmd *cobra.Command, g *globals, arg string) (*plan.Plan, error) {
	f, err := os.Open(arg)
	if err == nil {
		defer f.Close()
		p, err := planfile.ReadUnverified(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("show: %w", err)
	}
	if strings.ContainsAny(arg, "/.") {
		return nil, fmt.Errorf("show: no planfile %s", arg)
	}
	sess, err := g.newDBSession(cmd.Context(), nil, sessionOptions{keyOptional: true})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	p, err := sess.engine.RecordedPlan(cmd.Context(), arg)
	if err != nil {
		return nil, fmt.Errorf("show %s: no such planfile, and as a plan ID: %w", arg, err)
	}
	return p, nil
}

func showRevision(cmd *cobra.Command, g *globals, stackName, rev, output string) error {
	if err := oneOf("output", output, "text", "yaml", "json"); err != nil {
		return err
	}
	if stackName == "" || rev == "" {
		return fmt.Errorf("show %s@%s: name a stack and a revision, as in shop@3", stackName, rev)
	}
	ctx := cmd.Context()
	sess, err := g.newDBSession(ctx, nil, sessionOptions{keyOptional: true})
	if err != nil {
		return err
	}
	defer sess.Close()
	info, err := sess.store.ResolveRevision(ctx, stackName, rev)
	if err != nil {
		return err
	}
	r, err := sess.store.SealedRevision(ctx, info.ID)
	if err != nil {
		return err
	}
	v := history.NewRevisionView(r)
	switch output {
	case "yaml":
		return v.WriteYAML(g.stdout)
	case "json":
		return history.WriteJSON(g.stdout, v)
	}
	return v.WriteText(g.stdout)
}

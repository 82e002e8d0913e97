package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/plan"
)

func newShowCommand(g *globals) *cobra.Command {
	var output string
	var noColor bool
	cmd := &cobra.Command{
		Use:   "show PLANFILE",
		Short: "Show a saved plan (from gantry plan --out)",
		Long: `Show reads a planfile written by "gantry plan --out", checks its format version
and digest, and renders it like gantry plan does. Secret values are masked.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("output", output, "text", "json", "markdown"); err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("show: %w", err)
			}
			defer f.Close()
			p, err := plan.ReadPlanfile(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return renderPlan(g.stdout, p, output, g.colour(noColor))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output: text, json or markdown")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "no colours in text output (also NO_COLOR)")
	return cmd
}

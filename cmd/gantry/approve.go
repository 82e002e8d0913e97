package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/server"
	"github.com/gantryops/gantry/state"
)

// newApproveCommand is gantry approve (approve true) or gantry reject.
func newApproveCommand(g *globals, approve bool) *cobra.Command {
	var reason string
	verb, short := "approve", "Approve a plan that waits at the gate of gantry run"
	if !approve {
		verb, short = "reject", "Reject a plan that waits at the gate of gantry run"
	}
	cmd := &cobra.Command{
		Use:   verb + " PLAN_ID",
		Short: short,
		Long: short + `.
PLAN_ID is the plan's ID or its first 6 or more characters (gantry plans
--pending lists them). The decision is bound to the plan's digest and recorded
in the audit log with --actor (default: the OS user) and --reason. An
approved plan is applied by gantry run as soon as it notices (within its
--approval-poll) if the stack's windows allow and the cluster still matches
the plan; if the cluster moved, the plan is planned again and a destructive
re-plan waits for approval again. A rejected plan is never applied.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sess, err := g.newDBSession(cmd.Context(), nil, sessionOptions{keyOptional: true})
			if err != nil {
				return err
			}
			defer sess.Close()
			gate, err := sess.engine.Decide(cmd.Context(), state.Decision{PlanID: args[0], Approve: approve, Actor: g.actorName(), Reason: reason})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Plan %s of stack %s (commit %s) is %s by %s.\n", gate.PlanID, gate.Stack, object.ShortSHA(gate.Commit), gate.Status, gate.DecidedBy)
			if approve {
				fmt.Fprintln(g.stdout, "gantry run applies it at its next look (it checks that the cluster still matches the plan first).")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	return cmd
}

func newPlansCommand(g *globals) *cobra.Command {
	var pending bool
	var stackName, output, status string
	var limit int
	cmd := &cobra.Command{
		Use:   "plans [--pending] [--stack NAME]",
		Short: "List plans at the gate of gantry run: pending, approved, rejected, superseded, stale, applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := oneOf("output", output, "text", "json"); err != nil {
				return err
			}
			if pending {
				status = string(gate.StatusPending)
			}
			if status != "" {
				if err := oneOf("status", status, "pending", "approved", "rejected", "superseded", "stale", "applied"); err != nil {
					return err
				}
			}
			sess, err := g.newDBSession(cmd.Context(), nil, sessionOptions{keyOptional: true})
			if err != nil {
				return err
			}
			defer sess.Close()
			gates, err := sess.store.Gates(cmd.Context(), stackName, gate.Status(status), limit)
			if err != nil {
				return err
			}
			out := make([]server.GatePlan, len(gates))
			for i, gt := range gates {
				out[i] = server.GatePlanOf(gt)
			}
			if output == "json" {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"plans": out})
			}
			if len(out) == 0 {
				fmt.Fprintln(g.stdout, "No plans.")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PLAN\tSTACK\tSTATUS\tCOMMIT\tSINCE\tREASON\tDECIDED BY")
			for _, p := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.PlanID, p.Stack, p.Status, object.ShortSHA(p.Commit), p.PendedAt, p.Reason, p.DecidedBy)
			}
			return tw.Flush()
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&pending, "pending", false, "only plans waiting for approval (--status pending)")
	fl.StringVar(&status, "status", "", "only plans in this status")
	fl.StringVar(&stackName, "stack", "", "only this stack's plans")
	fl.StringVarP(&output, "output", "o", "text", "output: text or json")
	fl.IntVar(&limit, "limit", 100, "at most this many plans, newest first")
	return cmd
}

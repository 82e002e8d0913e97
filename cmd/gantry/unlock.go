package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
)

func newForceUnlockCommand(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "force-unlock LOCK_ID",
		Short: "Break a stack's apply lock held by a process that is gone",
		Long: `force-unlock breaks the apply lock LOCK_ID (the ID the "locked" error shows).
If the lock's Postgres session still exists, it is ended: the apply holding
it loses its database connection and fails. Use it only when that apply is
gone (its machine died, its process hung); the break is in the audit log.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			store, err := g.openStore(cmd.Context(), log, sessionOptions{keyOptional: true})
			if err != nil {
				return err
			}
			defer store.Close()
			if !force {
				fmt.Fprintf(g.stdout, "Do you really want to force-unlock %s?\n  If the apply holding it is still running, it will fail midway.\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ", args[0])
				ok, err := confirm(g)
				if err != nil || !ok {
					fmt.Fprintln(g.stdout, "\nForce-unlock cancelled.")
					return exitCode(1)
				}
			}
			h, err := store.ForceUnlock(cmd.Context(), args[0], g.actorName())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "\nThe lock of stack %s held by %s on %s (pid %d) since %s is broken.\n",
				h.Stack, h.Holder, h.Host, h.PID, h.Since.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "do not ask for confirmation")
	return cmd
}

// rejection is the audit event of a plan a person declined.
func rejection(p *plan.Plan, actor string) state.AuditEvent {
	return state.AuditEvent{Stack: p.Stack, Actor: actor, PlanID: p.ID,
		Data: event.PlanRejectedData{Digest: p.Digest, Reason: "declined at the prompt", Destructive: len(p.Destructive) > 0}}
}

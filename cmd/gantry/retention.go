package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/state"
)

func newGCCommand(g *globals) *cobra.Command {
	var keep int
	var olderThan string
	cmd := &cobra.Command{
		Use:   "gc STACK --keep N | --older-than DURATION",
		Short: "Delete old revisions of a stack from the database",
		Long: `GC deletes the stack's old revisions, with their plans and applies, and then
the stored objects no remaining revision references, in one transaction.
--keep N keeps the revisions of the N most recent succeeded applies (and every
revision recorded after the oldest of them); --older-than keeps everything
recorded or applied within that time. Given both, a revision either keeps is
kept. GC never deletes the audit log, the live revision, or the revision a
stack is held at. Deleted revisions can no longer be restored.`,
		Example: `  gantry gc shop --keep 20
  gantry gc shop --older-than 90d`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := state.GCOptions{Keep: keep, Actor: g.actorName()}
			if keep < 0 {
				return fmt.Errorf("--keep %d: keep at least 1", keep)
			}
			if olderThan != "" {
				d, err := parseDuration(olderThan)
				if err != nil {
					return fmt.Errorf("--older-than: %w", err)
				}
				opts.OlderThan = time.Now().Add(-d)
			}
			if opts.Keep == 0 && opts.OlderThan.IsZero() {
				return errors.New("say what to keep: --keep N or --older-than DURATION (e.g. 90d)")
			}
			ctx := cmd.Context()
			sess, err := g.newDBSession(ctx, nil, sessionOptions{keyOptional: true})
			if err != nil {
				return err
			}
			defer sess.Close()
			res, err := sess.store.GC(ctx, args[0], opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Deleted %d revisions, %d plans, %d applies and %d stored objects of stack %s. The audit log is kept.\n",
				res.Revisions, res.Plans, res.Applies, res.Objects, args[0])
			return nil
		},
	}
	cmd.Flags().IntVar(&keep, "keep", 0, "keep the revisions of this many most recent succeeded applies")
	cmd.Flags().StringVar(&olderThan, "older-than", "", "delete revisions recorded and last applied longer ago than this (e.g. 90d, 36h)")
	return cmd
}

func newResumeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume STACK",
		Short: "Lift the hold a restore put on a stack, so Git applies again",
		Long: `After gantry restore, a stack is held: applies of Git commits that are not newer
than the one live before the restore are refused, so that neither a person nor
the continuous engine undoes the restore by applying the old HEAD again. A newer
commit lifts the hold when it is applied; resume lifts it now, and the next apply
of Git applies whatever the ref points at, even the commit the restore replaced.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			sess, err := g.newDBSession(ctx, nil, sessionOptions{keyOptional: true})
			if err != nil {
				return err
			}
			defer sess.Close()
			h, err := sess.store.Resume(ctx, args[0], g.actorName())
			if err != nil {
				return err
			}
			if h == nil {
				fmt.Fprintf(g.stdout, "Stack %s is not held: nothing to resume.\n", args[0])
				return nil
			}
			fmt.Fprintf(g.stdout, "Stack %s was held at revision %d (a restore of revision %d) since %s; resumed: the next apply of Git applies what its ref points at.\n",
				args[0], h.Revision.Number, h.Revision.RestoredFromNumber, h.Since.UTC().Format(time.RFC3339))
			return nil
		},
	}
}

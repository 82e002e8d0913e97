package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/history"
	"github.com/gantryops/gantry/state"
)

func newHistoryCommand(g *globals) *cobra.Command {
	var output string
	var limit int
	var audit bool
	cmd := &cobra.Command{
		Use:   "history STACK",
		Short: "List a stack's applies, newest first, or its audit log",
		Long: `History lists the stack's applies from the database, newest first: the
revision applied (its number, for restore --to and show STACK@REV), the commit,
when the apply finished (UTC, to the second: what restore --at compares), who
applied it, the plan, +added ~changed -destroyed, the status, and the revision
a restore copied. A held stack says so first.

--audit lists the audit log instead: every plan made, pended, approved,
rejected, superseded or found stale; applies deferred, refused, started,
succeeded, failed or interrupted; objects pruned or kept; drift detected,
commits refused, locks broken or lost, restores, holds, resumes, gc and key
rotations (docs/events.md has every kind and its fields).`,
		Example: `  gantry history shop
  gantry history shop --limit 5 -o json
  gantry history shop --audit`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("output", output, "text", "json"); err != nil {
				return err
			}
			if limit < 0 {
				return fmt.Errorf("--limit %d: use 0 (everything) or more", limit)
			}
			return g.history(cmd.Context(), args[0], output, limit, audit)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output: text or json")
	cmd.Flags().IntVar(&limit, "limit", 50, "show at most this many entries, newest first (0: all)")
	cmd.Flags().BoolVar(&audit, "audit", false, "show the audit log instead of the applies")
	return cmd
}

func newDiffCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "diff STACK REV_A [REV_B]",
		Short: "Compare two recorded revisions of a stack, object by object and field by field",
		Long: `Diff compares two revisions recorded in the database (numbers as gantry history
shows them, or IDs): the objects added, removed and changed from REV_A to REV_B,
with a YAML diff per changed object (-o json: the changed fields). Without REV_B
it compares with the revision live now. Git is not needed, and Secret values are
never shown: Secrets compare by their sealed values.`,
		Example: `  gantry diff shop 3 7
  gantry diff shop 3 -o json`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("output", output, "text", "json"); err != nil {
				return err
			}
			ctx := cmd.Context()
			sess, err := g.newDBSession(ctx, nil, sessionOptions{keyOptional: true})
			if err != nil {
				return err
			}
			defer sess.Close()
			name := args[0]
			load := func(ref string) (*state.Revision, error) {
				info, err := sess.store.ResolveRevision(ctx, name, ref)
				if err != nil {
					return nil, err
				}
				return sess.store.SealedRevision(ctx, info.ID)
			}
			from, err := load(args[1])
			if err != nil {
				return err
			}
			var to *state.Revision
			if len(args) == 3 {
				to, err = load(args[2])
			} else {
				to, err = liveRevision(ctx, sess, name)
			}
			if err != nil {
				return err
			}
			d := history.Compare(from, to)
			if output == "json" {
				return history.WriteJSON(g.stdout, d)
			}
			return history.WriteDiff(g.stdout, d)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output: text or json")
	return cmd
}

// liveRevision loads the stack's live revision (of its last succeeded apply), sealed.
func liveRevision(ctx context.Context, sess *session, stack string) (*state.Revision, error) {
	info, _, err := sess.store.LiveRevisionAt(ctx, stack, time.Now())
	if err != nil {
		return nil, err
	}
	return sess.store.SealedRevision(ctx, info.ID)
}

// history prints the stack's applies (or its audit log) from the record.
func (g *globals) history(ctx context.Context, name, output string, limit int, audit bool) error {
	sess, err := g.newDBSession(ctx, nil, sessionOptions{keyOptional: true})
	if err != nil {
		return err
	}
	defer sess.Close()
	if audit {
		events, err := sess.store.AuditLog(ctx, name, limit)
		if err != nil {
			return err
		}
		l := history.NewAuditLog(name, events)
		if output == "json" {
			return history.WriteJSON(g.stdout, l)
		}
		return history.WriteAuditTable(g.stdout, l)
	}
	entries, err := sess.store.History(ctx, name, limit)
	if err != nil {
		return err
	}
	hold, err := sess.store.HoldOf(ctx, name)
	if err != nil {
		return err
	}
	l := history.NewLog(name, entries, hold)
	if output == "json" {
		return history.WriteJSON(g.stdout, l)
	}
	return history.WriteTable(g.stdout, l)
}

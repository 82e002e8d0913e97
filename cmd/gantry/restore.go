package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/object"
)

// restoreFlags are gantry restore's flags.
type restoreFlags struct {
	gateFlags
	to, at           string
	autoApprove      bool
	out              string
	repo             string
	allowRemoteBases bool
	gitCacheDir      string
}

func newRestoreCommand(g *globals) *cobra.Command {
	f := &restoreFlags{}
	cmd := &cobra.Command{
		Use:   "restore STACK --to REV | --at TIME",
		Short: "Plan and apply a stack back to a recorded revision, from the database alone",
		Long: `Restore brings a stack back to a revision recorded in the database: the one
named by --to (its number or ID, as gantry history shows), or the one that was
live at --at (the revision of the last succeeded apply that had finished by then,
to the second). Its objects come from Postgres, not Git, and so do the stack's
namespace and prune policy (as the plan that applied it recorded them): restore
works when the repository, the branch or gantry.yaml are gone.

The restore is a normal plan against the live cluster (objects created since are
pruned, objects deleted since are recreated), shown and approved like any plan
("yes" at the prompt, or --auto-approve), or written to --out for gantry apply.
Applied, it is recorded as a new revision restored from the old one, and the stack
is held: applying a Git commit that is not newer than the one live before the
restore is refused, until a newer commit is applied or gantry resume STACK.

Secrets stored while GANTRY_SECRET_KEY was set are restored exactly. Without it
only salted hashes were stored: restore renders that commit from Git again and
checks every value against its hash (--repo if the repository moved); if Git
cannot provide them, it stops and names the Secrets, and nothing is applied.

--at takes RFC 3339 ("2026-11-24T09:30:00Z"), "2026-11-24 09:30:00" (UTC), or a
time ago ("-90m", "-2h", "-3d").`,
		Example: `  gantry restore shop --to 3
  gantry restore shop --at "2026-11-24 09:30:00"
  gantry restore shop --at -2h --out restore.plan && gantry apply restore.plan`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRestore(cmd, g, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "the revision to restore: its number or ID (see gantry history)")
	fl.StringVar(&f.at, "at", "", "restore the revision live at this time")
	fl.BoolVar(&f.autoApprove, "auto-approve", false, "do not ask before applying (refused for destructive plans without --allow-destructive)")
	fl.StringVar(&f.out, "out", "", "write the restore plan to `FILE` and stop; apply it with gantry apply FILE (holds Secret data: written as a new 0600 file)")
	fl.StringVar(&f.repo, "repo", "", "where to render Secrets stored as hashes again, if the recorded repository moved")
	fl.BoolVar(&f.allowRemoteBases, "allow-remote-bases", false, "let that render fetch remote kustomize bases")
	fl.StringVar(&f.gitCacheDir, "git-cache-dir", "", "Git cache directory (default $XDG_CACHE_HOME/gantry/git)")
	f.gateFlags.add(fl)
	return cmd
}

func runRestore(cmd *cobra.Command, g *globals, f *restoreFlags, stackName string) error {
	req := engine.RestoreRequest{Stack: stackName, To: f.to, Actor: g.actorName(), Repo: f.repo, AllowRemoteBases: f.allowRemoteBases}
	switch {
	case f.to != "" && f.at != "":
		return errors.New("give --to REV or --at TIME, not both")
	case f.to == "" && f.at == "":
		return errors.New("say what to restore: --to REV (a number from gantry history) or --at TIME")
	case f.at != "":
		t, err := parseMoment(f.at, time.Now())
		if err != nil {
			return fmt.Errorf("--at %w", err)
		}
		req.At = t
	}
	ctx := cmd.Context()
	sess, err := g.newSession(ctx, sessionOptions{gitCacheDir: f.gitCacheDir})
	if err != nil {
		return err
	}
	defer sess.Close()
	req.Cluster = sess.cluster
	r, err := sess.engine.Restore(ctx, req)
	if err != nil {
		return err
	}
	rev := r.Revision
	fmt.Fprintf(g.stdout, "Restoring stack %s to revision %d (commit %s), live from %s UTC.\n\n",
		stackName, rev.Number, object.ShortSHA(rev.Commit), r.AppliedAt.UTC().Format("2006-01-02 15:04:05"))
	printStats(g, r.Plan)
	if f.out != "" {
		if err := writePlanfile(f.out, r.Plan); err != nil {
			return err
		}
		if err := renderPlan(g.stdout, r.Plan, "text", g.colour(f.noColor)); err != nil {
			return err
		}
		fmt.Fprintf(g.stderr, "Saved the restore plan to %s; apply exactly these changes with: gantry apply %s\n", f.out, f.out)
		return nil
	}
	return confirmAndApply(ctx, g, sess, r.Plan, !f.autoApprove, f.gateFlags)
}

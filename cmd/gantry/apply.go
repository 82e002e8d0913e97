package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/stack"
)

// applyFlags are gantry apply's flags.
type applyFlags struct {
	stackFlags
	gateFlags
	planID      string
	diff        string
	autoApprove bool
}

// gateFlags control approving and applying a plan, shared by apply and
// restore.
type gateFlags struct {
	allowDestructive bool
	allowRollback    bool // gantry apply only: restores are rollbacks by a person
	wait             bool
	timeout          time.Duration
	lockTimeout      time.Duration
	noColor          bool
}

func (f *gateFlags) add(fl *pflag.FlagSet) {
	fl.BoolVar(&f.allowDestructive, "allow-destructive", false, "approve a destructive plan without the prompt")
	fl.BoolVar(&f.wait, "wait", true, "wait until applied objects are ready (kstatus Current) before pruning")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long to wait for readiness")
	fl.DurationVar(&f.lockTimeout, "lock-timeout", 0, "how long to wait for another apply of the stack to finish")
	fl.BoolVar(&f.noColor, "no-color", false, "no colours in text output (also NO_COLOR)")
}

func newApplyCommand(g *globals) *cobra.Command {
	f := &applyFlags{}
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE | --plan-id ID | --stack NAME | --repo REPO ... | --chart-repo URL ... | --artifact REF ...]",
		Short: "Apply a stack's revision, or exactly a saved plan",
		Long: `Apply plans the stack, shows the plan, asks for confirmation ("yes"), and
applies exactly that plan: server-side apply as field manager gantry, in phases
(Namespaces, CRDs, cluster-scoped RBAC, the rest), then waits until the objects
are ready (kstatus) and prunes what the revision no longer renders.

With PLANFILE (from gantry plan --out) or --plan-id (a recorded plan) it asks
nothing and applies exactly that plan, even if Git has moved on since; a plan
whose base moved in the cluster is refused before any change.

A destructive plan (deleting a Namespace, CRD or PVC, much of the stack, or
everything) needs a person: confirm it at the prompt, or pass
--allow-destructive with --auto-approve, PLANFILE or --plan-id. So does, on a
stack that verifies signatures, a plan going back from the last commit
applied (to an older commit, or one of a rewritten history): confirm it, or
pass --allow-rollback.

One apply per stack runs at a time; --lock-timeout waits for the one running.`,
		Example: `  gantry apply --stack shop
  gantry apply shop.plan
  gantry apply --stack shop --auto-approve --lock-timeout 2m`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runApply(cmd, g, f, args) },
	}
	fl := cmd.Flags()
	f.stackFlags.add(fl, "apply")
	fl.StringVar(&f.planID, "plan-id", "", "apply a recorded plan by ID (or its first 6+ characters), without asking")
	fl.StringVar(&f.diff, "diff", string(plan.DiffAuto), "how to compute changes: auto or server (local plans cannot be applied)")
	fl.BoolVar(&f.autoApprove, "auto-approve", false, "do not ask before applying (refused for destructive plans without --allow-destructive, rollbacks without --allow-rollback)")
	fl.BoolVar(&f.allowRollback, "allow-rollback", false, "approve without the prompt a plan going back from the last commit applied (stacks with verify)")
	f.gateFlags.add(fl)
	return cmd
}

func runApply(cmd *cobra.Command, g *globals, f *applyFlags, args []string) error {
	if err := oneOf("diff", f.diff, "auto", "server"); err != nil {
		return err
	}
	if len(args) == 1 && f.planID != "" {
		return errors.New("give a PLANFILE or --plan-id, not both")
	}
	ctx := cmd.Context()
	actor := g.actorName()
	var p *plan.Plan
	interactive := false
	var file *os.File
	if len(args) == 1 {
		var err error
		if file, err = os.Open(args[0]); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		defer file.Close()
	}
	var stacks []stack.Stack // the stack to plan, if not a saved plan
	if file == nil && f.planID == "" {
		s, err := g.resolveStack(cmd, &f.stackFlags)
		if err != nil {
			return err
		}
		stacks = append(stacks, *s)
	}
	sess, err := g.newSession(ctx, sessionOptions{gitCacheDir: f.gitCacheDir, stacks: stacks})
	if err != nil {
		return err
	}
	defer sess.Close()
	switch {
	case file != nil:
		// The digest is keyed with the stack's key, kept in the database.
		if p, err = sess.engine.ReadPlanfile(ctx, file); err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
	case f.planID != "":
		if p, err = sess.engine.LoadPlan(ctx, f.planID); err != nil {
			return err
		}
	default:
		s := stacks[0]
		if p, err = sess.engine.Plan(ctx, engine.PlanRequest{Stack: s, Cluster: sess.cluster, Mode: plan.DiffMode(f.diff), Actor: actor}); err != nil {
			return err
		}
		printStats(g, p)
		interactive = !f.autoApprove
	}

	return confirmAndApply(ctx, g, sess, p, interactive, f.gateFlags)
}

// confirmAndApply shows p, asks for approval when interactive (a destructive plan
// otherwise needs --allow-destructive, a rollback --allow-rollback), and
// applies it.
func confirmAndApply(ctx context.Context, g *globals, sess *session, p *plan.Plan, interactive bool, f gateFlags) error {
	actor := g.actorName()
	if err := render.Text(g.stdout, p, render.TextOptions{Color: g.colour(f.noColor)}); err != nil {
		return err
	}
	if !p.HasChanges() {
		fmt.Fprintf(g.stdout, "\nApply complete! Resources: 0 added, 0 changed, 0 destroyed.\n")
		return nil
	}
	destructive := len(p.Destructive) > 0
	approved := false
	switch {
	case p.Held != "" || len(plan.KnownFailures(p)) > 0:
		// Refused whatever the answer (held, or changes known to fail, as
		// the plan above says): do not ask. The engine refuses it and
		// records the refusal.
	case interactive:
		ok, err := askApply(g)
		if err != nil {
			return err
		}
		if !ok {
			if err := sess.store.Audit(ctx, rejection(p, actor)); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "\nApply cancelled.\n")
			return exitCode(1)
		}
		approved = true
	case destructive && !f.allowDestructive:
		return fmt.Errorf("plan %s is destructive (%s): apply it interactively (without --auto-approve) to confirm, or pass --allow-destructive", p.ID, strings.Join(p.Destructive, "; "))
	case p.Rollback != "" && !f.allowRollback:
		return fmt.Errorf("plan %s goes back: %s: apply it interactively (without --auto-approve) to confirm, or pass --allow-rollback", p.ID, p.Rollback)
	default:
		// Every approval the plan needs was given by flag.
		approved = f.allowDestructive || f.allowRollback
	}

	fmt.Fprintln(g.stdout)
	opts := apply.DefaultOptions()
	opts.Wait, opts.Timeout = f.wait, f.timeout
	opts.OnEvent = progress(g)
	start, before := time.Now(), sess.cluster.Stats()
	report, err := sess.engine.Apply(ctx, engine.ApplyRequest{Plan: p, Cluster: sess.cluster, Actor: actor, Approved: approved, LockTimeout: f.lockTimeout, Options: opts})
	if after := sess.cluster.Stats(); report != nil {
		fmt.Fprintf(g.stderr, "Applied in %s: %d API requests (%d writes).\n", time.Since(start).Round(time.Millisecond), after.Total-before.Total, after.Writes-before.Writes)
	}
	if err != nil {
		return err
	}
	added, changed, destroyed := report.Summary()
	fmt.Fprintf(g.stdout, "\nApply complete! Resources: %d added, %d changed, %d destroyed.\n", added, changed, destroyed)
	return nil
}

// askApply asks Terraform's question.
func askApply(g *globals) (bool, error) {
	fmt.Fprint(g.stdout, "\nDo you want to perform these actions?\n  gantry will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	return confirm(g)
}

// confirm reads one line and accepts only "yes".
func confirm(g *globals) (bool, error) {
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil // no input (closed stdin): not approved
	}
	return strings.TrimSpace(line) == "yes", nil
}

// progress prints a line per object as Terraform does.
func progress(g *globals) func(apply.Event) {
	var mu sync.Mutex
	verbs := map[plan.Action][2]string{
		plan.ActionCreate:  {"Creating...", "Creation complete"},
		plan.ActionUpdate:  {"Modifying...", "Modifications complete"},
		plan.ActionAdopt:   {"Adopting...", "Adoption complete"},
		plan.ActionReplace: {"Replacing (destroy, then create)...", "Replacement complete"},
		plan.ActionDelete:  {"Destroying...", "Destruction complete"},
		plan.ActionNoop:    {"", "Kept"},
	}
	return func(e apply.Event) {
		mu.Lock()
		defer mu.Unlock()
		v := verbs[e.Action]
		switch e.Kind {
		case apply.EventStarted:
			fmt.Fprintf(g.stdout, "%s: %s\n", e.Ref, v[0])
		case apply.EventDone:
			if e.Message != "" {
				done := v[1]
				if e.Action == plan.ActionDelete {
					done = "Destruction pending" // finalizers hold it
				}
				fmt.Fprintf(g.stdout, "%s: %s (%s)\n", e.Ref, done, e.Message)
				return
			}
			fmt.Fprintf(g.stdout, "%s: %s after %s\n", e.Ref, v[1], e.Duration.Round(time.Millisecond))
		case apply.EventFailed:
			fmt.Fprintf(g.stdout, "%s: failed after %s: %v\n", e.Ref, e.Duration.Round(time.Millisecond), e.Err)
		case apply.EventWaiting:
			fmt.Fprintf(g.stdout, "Waiting for %s...\n", e.Message)
		case apply.EventReady:
			fmt.Fprintf(g.stdout, "%s: Ready\n", e.Ref)
		case apply.EventNotReady:
			fmt.Fprintf(g.stdout, "%s: %s\n", e.Ref, e.Message)
		}
	}
}

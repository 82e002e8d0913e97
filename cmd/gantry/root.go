package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/gantryops/gantry/state"
)

// globals are the flags every command shares.
type globals struct {
	logLevel      string
	logFormat     string
	databaseURL   string
	profile       string
	profileOutput string
	actor         string
	// kube holds the standard kubeconfig flags (--kubeconfig, --context,
	// --namespace, ...), shared with kubectl so users find them where they
	// expect; commands that talk to a cluster read them.
	kube *genericclioptions.ConfigFlags

	stdin          io.Reader
	stdout, stderr io.Writer
}

// run builds the command tree and executes args. It never exits the process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, kube: genericclioptions.NewConfigFlags(true)}
	root := &cobra.Command{
		Use:   "gantry",
		Short: "Plan and apply Git revisions to Kubernetes, with approval and restore",
		Long: `gantry renders a Git commit (kustomize or plain YAML), computes a plan against
the live cluster, records plans and applied revisions in Postgres, and applies
them with server-side apply, on a schedule or after approval.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	pf := root.PersistentFlags()
	pf.StringVar(&g.logLevel, "log-level", envOr("GANTRY_LOG_LEVEL", "warn"), "log level: trace, debug, info, warn or error (env GANTRY_LOG_LEVEL)")
	pf.StringVar(&g.logFormat, "log-format", envOr("GANTRY_LOG_FORMAT", "text"), "log format: text or json (env GANTRY_LOG_FORMAT)")
	pf.StringVar(&g.databaseURL, "database-url", "", "Postgres connection URL (env GANTRY_DATABASE_URL); empty: the embedded Postgres")
	pf.StringVar(&g.actor, "actor", "", "who is acting, for the audit log (default: the OS user)")
	pf.StringVar(&g.profile, "profile", "none", "write a profile of this command: none, cpu, heap or allocs (as kubectl's --profile)")
	pf.StringVar(&g.profileOutput, "profile-output", "profile.pprof", "file for --profile")
	g.kube.AddFlags(pf)
	var stopProfile func() error
	root.PersistentPreRunE = func(*cobra.Command, []string) (err error) {
		stopProfile, err = startProfile(g.profile, g.profileOutput)
		return err
	}
	root.PersistentPostRunE = func(*cobra.Command, []string) error { return stopProfile() }

	root.AddCommand(
		newVersionCommand(g),
		newRenderCommand(g),
		newPlanCommand(g),
		newApplyCommand(g),
		newForceUnlockCommand(g),
		newShowCommand(g),
		newHistoryCommand(g),
		newDiffCommand(g),
		newNotificationsCommand(g),
		newRestoreCommand(g),
		newResumeCommand(g),
		newGCCommand(g),
		newDBCommand(g),
		newRunCommand(g),
		newApproveCommand(g, true),
		newApproveCommand(g, false),
		newPlansCommand(g),
		newReviewCommand(g),
	)
	return root.ExecuteContext(ctx)
}

// logger builds the hclog logger the flags ask for, writing to stderr.
func (g *globals) logger() (hclog.Logger, error) {
	level := hclog.LevelFromString(g.logLevel)
	if level == hclog.NoLevel {
		return nil, fmt.Errorf("--log-level %q: use trace, debug, info, warn or error", g.logLevel)
	}
	if g.logFormat != "text" && g.logFormat != "json" {
		return nil, fmt.Errorf("--log-format %q: use text or json", g.logFormat)
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name:       "gantry",
		Level:      level,
		Output:     g.stderr,
		JSONFormat: g.logFormat == "json",
	})
	routeKlog(log)
	return log, nil
}

// openStore opens the database the flags name (the embedded one by
// default), as the session options say (read-only, key optional).
func (g *globals) openStore(ctx context.Context, log hclog.Logger, sess sessionOptions) (*state.Store, error) {
	opts := state.DefaultOptions()
	opts.DatabaseURL, opts.Logger, opts.ReadOnly, opts.KeyOptional = g.dbURL(), log, sess.readOnly, sess.keyOptional
	opts.SecretKey = os.Getenv("GANTRY_SECRET_KEY")
	return state.Open(ctx, opts)
}

// dbURL returns --database-url, else $GANTRY_DATABASE_URL; empty means embedded.
func (g *globals) dbURL() string {
	if g.databaseURL != "" {
		return g.databaseURL
	}
	return os.Getenv("GANTRY_DATABASE_URL")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// oneOf checks a flag value against its allowed values.
func oneOf(flag, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return fmt.Errorf("--%s %q: use %s", flag, value, strings.Join(allowed, " or "))
}

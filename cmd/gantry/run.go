package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/notify"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/server"
	"github.com/gantryops/gantry/stack"
)

// runFlags are the flags of gantry run.
type runFlags struct {
	config       string
	stacks       []string
	listen       string
	once         bool
	approvalPoll time.Duration
	failingAfter int
	wait         bool
	timeout      time.Duration
	gitCacheDir  string
	server       server.Options
}

func newRunCommand(g *globals) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Reconcile every stack of gantry.yaml continuously, with an approval gate",
		Long: `run keeps every stack of --config converged: each interval (with jitter), on a
GitHub push webhook, and when a window opens, it fetches and renders the
stack's ref, plans it against the cluster (read through a watch cache),
records the plan, and applies it if the stack's approval policy, drift policy
and windows allow; otherwise the plan waits (gantry plans --pending, gantry
approve PLAN_ID). SIGTERM or Ctrl-C finishes cleanly: an apply in progress is
interrupted and recorded as such.

It serves /healthz, /readyz, /metrics, POST /hooks/github (GANTRY_WEBHOOK_SECRET)
and a JSON API under /api/v1 (Authorization: Bearer $GANTRY_API_TOKEN) on --listen.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return g.runEngine(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "gantry.yaml", "stack config file")
	fl.StringSliceVar(&f.stacks, "stack", nil, "reconcile only these stacks (repeatable; default all)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address of the HTTP server (health, metrics, webhook, API); empty: none")
	fl.BoolVar(&f.once, "once", false, "reconcile each stack once and exit (non-zero if any failed)")
	fl.DurationVar(&f.approvalPoll, "approval-poll", 5*time.Second, "how often to look for plans approved from elsewhere")
	fl.BoolVar(&f.wait, "wait", true, "wait for applied objects to be ready before pruning")
	fl.IntVar(&f.failingAfter, "failing-after", 3, "failed reconciles of a stack in a row that record stack.failing (and a success after them stack.recovered)")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long to wait for readiness")
	fl.StringVar(&f.gitCacheDir, "git-cache-dir", "", "Git cache directory (default $XDG_CACHE_HOME/gantry/git)")
	d := server.DefaultOptions()
	fl.Int64Var(&f.server.MaxWebhookBytes, "max-webhook-bytes", d.MaxWebhookBytes, "largest webhook body accepted (larger: 413)")
	fl.DurationVar(&f.server.ReadTimeout, "http-read-timeout", d.ReadTimeout, "longest a client may take to send a whole request, body included (slower: 408, connection closed)")
	fl.DurationVar(&f.server.WriteTimeout, "http-write-timeout", d.WriteTimeout, "longest a response may take, from the end of the request's headers")
	fl.IntVar(&f.server.MaxConcurrentBodies, "http-max-bodies", d.MaxConcurrentBodies, "request bodies read at once, for webhooks and for the API each; more: 503 with Retry-After")
	fl.IntVar(&f.server.MaxConnections, "http-max-connections", d.MaxConnections, "connections open at once; more are closed when accepted")
	return cmd
}

// runEngine is gantry run.
func (g *globals) runEngine(ctx context.Context, f *runFlags) error {
	if f.failingAfter < 1 {
		return fmt.Errorf("--failing-after %d: give 1 or more", f.failingAfter)
	}
	cfg, err := stack.Load(f.config)
	if err != nil {
		return err
	}
	stacks, err := selectStacks(cfg, f.stacks)
	if err != nil {
		return err
	}
	sess, err := g.newSession(ctx, sessionOptions{gitCacheDir: f.gitCacheDir, stacks: stacks})
	if err != nil {
		return err
	}
	defer sess.Close()
	disp, err := dispatcher(cfg, sess)
	if err != nil {
		return err
	}
	opts := runnerOptions(f, sess, stacks)
	if f.once {
		return g.runOnce(ctx, sess, opts, disp)
	}
	r := runner.New(sess.engine, opts)
	if disp != nil {
		disp.Metrics = notify.NewMetrics(r.Metrics().Registry)
	}

	srvErr := make(chan error, 1)
	if f.listen != "" {
		stop, err := g.serve(ctx, sess, r, f, stacks, srvErr)
		if err != nil {
			return err
		}
		defer stop()
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	if disp != nil {
		go disp.Run(runCtx)
	}
	select {
	case err := <-srvErr:
		cancel()
		<-done
		return fmt.Errorf("http server: %w", err)
	case err := <-done:
		if ctx.Err() != nil {
			sess.log.Info("stopped", "reason", context.Cause(ctx))
			return nil
		}
		return err
	}
}

// serve serves gantry run's HTTP server on --listen until the returned
// stop is called; the server's failure is sent on srvErr.
func (g *globals) serve(ctx context.Context, sess *session, r *runner.Runner, f *runFlags, stacks []stack.Stack, srvErr chan<- error) (stop func(), err error) {
	sopts := f.server
	sopts.Token, sopts.WebhookSecret = os.Getenv("GANTRY_API_TOKEN"), os.Getenv("GANTRY_WEBHOOK_SECRET")
	if sopts.Token == "" {
		sess.log.Warn("GANTRY_API_TOKEN is not set: the JSON API answers 401 to every request")
	}
	if sopts.WebhookSecret == "" {
		sess.log.Warn("GANTRY_WEBHOOK_SECRET is not set: webhooks answer 401; stacks are polled every interval")
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", f.listen, err)
	}
	srv := server.New(r, sess.engine, sopts)
	go func() { srvErr <- srv.Serve(server.LimitListener(ln, sopts.MaxConnections)) }()
	fmt.Fprintf(g.stderr, "gantry run: %d stack(s) (%s), serving on http://%s\n", len(stacks), strings.Join(names(stacks), ", "), ln.Addr())
	return func() {
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}, nil
}

// runOnce reconciles each stack once, printing what happened, then
// announces what the round recorded (disp: nil without notifications).
func (g *globals) runOnce(ctx context.Context, sess *session, opts runner.Options, disp *notify.Dispatcher) error {
	cache := kube.NewCache(opts.Cluster)
	defer cache.Stop()
	var failed []error
	for _, s := range opts.Stacks {
		res, err := sess.engine.Reconcile(ctx, engine.ReconcileRequest{Stack: s, Cluster: opts.Cluster, Reader: cache, Actor: opts.Actor, Apply: opts.Apply})
		line := fmt.Sprintf("%s: %s", s.Name, res.Outcome)
		if res.Plan != nil {
			line += " plan " + res.Plan.ID
		}
		if res.Reason != "" {
			line += ": " + res.Reason
		}
		if err != nil {
			line = fmt.Sprintf("%s: failed in %s: %v", s.Name, res.Phase, err)
			if res.Outcome == gate.Refused {
				line = fmt.Sprintf("%s: refused: %v", s.Name, err)
			}
			failed = append(failed, fmt.Errorf("stack %s: %w", s.Name, err))
		}
		fmt.Fprintln(g.stdout, line)
	}
	if disp != nil { // what the round recorded, announced before exiting
		if _, err := disp.Once(ctx); err != nil {
			failed = append(failed, fmt.Errorf("notifications: %w", err))
		}
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	return nil
}

// runnerOptions are the runner's options of gantry run's flags.
func runnerOptions(f *runFlags, sess *session, stacks []stack.Stack) runner.Options {
	opts := runner.DefaultOptions()
	opts.Stacks, opts.Cluster, opts.ApprovalPoll = stacks, sess.cluster, f.approvalPoll
	opts.Actor, opts.Logger = "gantry-run@"+hostname(), sess.log
	opts.Apply = apply.DefaultOptions()
	opts.Apply.Wait, opts.Apply.Timeout = f.wait, f.timeout
	opts.FailingAfter = f.failingAfter
	return opts
}

// dispatcher is the notification dispatcher of gantry.yaml's
// notifications (nil without), its secrets read now: a missing one stops
// gantry run before it starts.
func dispatcher(cfg *stack.Config, sess *session) (*notify.Dispatcher, error) {
	if cfg.Notifications == nil || len(cfg.Notifications.Providers) == 0 {
		return nil, nil
	}
	providers, routes, err := notify.FromConfig(cfg.Notifications, filepath.Dir(cfg.File), notify.Env{Getenv: os.Getenv, ReadFile: readSecretFile})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	return &notify.Dispatcher{Record: sess.store, Providers: providers, Routes: routes, Log: sess.log.Named("notify")}, nil
}

// readSecretFile reads a secret's file, at most 64 KiB and one byte.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<10+1))
}

// selectStacks returns the stacks named (all when none), or an error naming
// the unknown ones.
func selectStacks(cfg *stack.Config, want []string) ([]stack.Stack, error) {
	if len(want) == 0 {
		if len(cfg.Stacks) == 0 {
			return nil, fmt.Errorf("%s declares no stacks: add at least one stack under its stacks key", cfg.File)
		}
		return cfg.Stacks, nil
	}
	var out []stack.Stack
	for _, name := range want {
		s, ok := cfg.Find(name)
		if !ok {
			return nil, fmt.Errorf("--stack %s: no such stack in %s (it declares: %s)", name, cfg.File, strings.Join(cfg.Names(), ", "))
		}
		if !slices.ContainsFunc(out, func(o stack.Stack) bool { return o.Name == name }) {
			out = append(out, *s)
		}
	}
	return out, nil
}

func names(stacks []stack.Stack) []string {
	out := make([]string, len(stacks))
	for i, s := range stacks {
		out[i] = s.Name
	}
	return out
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

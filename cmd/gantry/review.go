package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/review"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/stack"
)

// reviewFlags are gantry review github's flags.
type reviewFlags struct {
	config, stackName string
	repo              string
	pr                int
	apiURL            string
	diff              string
	appID, appInstall int64
	appKeyFile        string
	gitCacheDir       string
	commentAuthor     string
}

func newReviewCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Put plans where reviewers look (pull requests)",
	}
	cmd.AddCommand(newReviewGitHubCommand(g))
	return cmd
}

func newReviewGitHubCommand(g *globals) *cobra.Command {
	f := &reviewFlags{}
	cmd := &cobra.Command{
		Use:   "github --repo OWNER/NAME --pr N --stack S",
		Short: "Plan a pull request's head and keep its plan in one comment on the pull request",
		Long: `review github plans stack S of --config at the head commit of pull request N
of OWNER/NAME, and keeps one comment per pull request and stack holding the
Markdown plan: created on the first run, edited in place on every later one
(found by a hidden marker), "No changes" when there are none. It prints the
Markdown too, and exits 0 with no changes, 2 with changes, 1 on error.

Reviewing never writes to the cluster and changes nothing of the stack's
record (inventory, memo, revisions, plans): it only reads. The branch is
untrusted: kustomize plugins are off, remote bases are refused whatever the
stack allows, loads stay inside each kustomization's root, files over 8 MiB and
symlinks leaving the repository are refused. --diff local (the default) sends
no dry-run, so read-only cluster credentials suffice (deploy/plan-readonly).

Credentials: GITHUB_TOKEN, or a GitHub App: --app-id, --app-installation-id
and its private key in GITHUB_APP_PRIVATE_KEY or --app-key-file. Only a comment
written by gantry's own identity is edited (the token's user, SLUG[bot] for
an App, github-actions[bot] for the GITHUB_TOKEN of Actions); comments by
anyone else carrying the marker are left alone.`,
		Example: `  GITHUB_TOKEN=... gantry review github --repo acme/deploy --pr 42 --stack shop
  gantry review github --repo acme/deploy --pr 42 --stack shop --api-url https://github.example.com/api/v3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReviewGitHub(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "gantry.yaml", "stack config file")
	fl.StringVar(&f.stackName, "stack", "", "stack to plan (from --config; optional when it declares one)")
	fl.StringVar(&f.repo, "repo", "", "the GitHub repository, OWNER/NAME")
	fl.IntVar(&f.pr, "pr", 0, "the pull request's number")
	fl.StringVar(&f.apiURL, "api-url", envOr("GITHUB_API_URL", "https://api.github.com/"), "GitHub's REST API (GitHub Enterprise Server: https://HOST/api/v3) (env GITHUB_API_URL)")
	fl.StringVar(&f.diff, "diff", string(plan.DiffLocal), "how to compute changes: local (read-only credentials), auto or server (dry-runs: for trusted branches)")
	fl.Int64Var(&f.appID, "app-id", 0, "authenticate as this GitHub App (with --app-installation-id)")
	fl.Int64Var(&f.appInstall, "app-installation-id", 0, "the App's installation on the repository's owner")
	fl.StringVar(&f.appKeyFile, "app-key-file", "", "the App's private key (PEM); default: GITHUB_APP_PRIVATE_KEY")
	fl.StringVar(&f.gitCacheDir, "git-cache-dir", "", "Git cache directory (default $XDG_CACHE_HOME/gantry/git)")
	fl.StringVar(&f.commentAuthor, "comment-author", "", "the login gantry's comments are written by, for an App's installation token given as GITHUB_TOKEN (SLUG[bot]); default: asked of GitHub")
	return cmd
}

func runReviewGitHub(cmd *cobra.Command, g *globals, f *reviewFlags) error {
	if f.repo == "" || f.pr <= 0 {
		return fmt.Errorf("give the pull request: --repo OWNER/NAME and --pr N")
	}
	if err := oneOf("diff", f.diff, "local", "auto", "server"); err != nil {
		return err
	}
	s, err := configStack(f.config, f.stackName)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	opts := review.GitHubOptions{APIURL: f.apiURL, Token: os.Getenv("GITHUB_TOKEN"), CommentAuthor: f.commentAuthor}
	if f.appID != 0 || f.appInstall != 0 {
		if opts.App, err = appAuth(f); err != nil {
			return err
		}
	}
	gh, err := review.NewGitHub(ctx, f.repo, opts)
	if err != nil {
		return err
	}
	pr, err := gh.PullRequest(ctx, f.pr)
	if err != nil {
		return err
	}
	// The stack as configured: Git credentials go over plain http:// only
	// to its own repository, if it allows that, never to a fork's.
	configured := *s
	// Plan the head commit, from the fork when it comes from one.
	s.Source.Ref = pr.HeadSHA
	if !pr.SameRepo && pr.HeadRepo != "" {
		s.Source.Repo = pr.HeadRepo
	}
	sess, err := g.newSession(ctx, sessionOptions{gitCacheDir: f.gitCacheDir, stacks: []stack.Stack{configured}, readOnly: true})
	if err != nil {
		return err
	}
	defer sess.Close()
	p, err := sess.engine.Plan(ctx, engine.PlanRequest{Stack: *s, Cluster: sess.cluster, Mode: plan.DiffMode(f.diff),
		Actor: g.actorName(), ReadOnly: true, Untrusted: true})
	if err != nil {
		err = fmt.Errorf("plan %s at %s#%d (%s): %w", s.Name, f.repo, f.pr, object.ShortSHA(pr.HeadSHA), err)
		// Reviewers see why there is no plan, in the same comment, without
		// the coordinates of the database (the job's log has them).
		body := review.FailureComment(s.Name, pr.HeadSHA, errors.New(withoutDatabase(err.Error(), sess.store)))
		if _, cerr := gh.Upsert(ctx, f.pr, review.Marker(s.Name), body); cerr != nil {
			return errors.Join(err, cerr)
		}
		return err
	}
	if err := g.comment(ctx, gh, f, s, pr.HeadSHA, p); err != nil {
		return err
	}
	printStats(g, p)
	if p.HasChanges() {
		return exitCode(2)
	}
	return nil
}

// comment renders p as the pull request's comment for s (planned at
// head), writes or edits it, and prints it.
func (g *globals) comment(ctx context.Context, gh *review.GitHub, f *reviewFlags, s *stack.Stack, head string, p *plan.Plan) error {
	mopts := render.DefaultMarkdownOptions()
	mopts.Marker = review.Marker(s.Name)
	mopts.FullCommand = fmt.Sprintf("gantry plan --repo %s --ref %s --path %s", source.RedactURL(s.Source.Repo), head, s.Source.Path)
	if s.Target.Namespace != "" {
		mopts.FullCommand += " --namespace " + s.Target.Namespace
	}
	var md bytes.Buffer
	if err := render.Markdown(&md, p, mopts); err != nil {
		return err
	}
	comment, err := gh.Upsert(ctx, f.pr, mopts.Marker, md.String())
	if err != nil {
		return err
	}
	fmt.Fprint(g.stdout, md.String())
	what := "Updated"
	switch {
	case comment.Created:
		what = "Created"
	case comment.Unchanged:
		what = "Unchanged:"
	}
	fmt.Fprintf(g.stderr, "%s comment %d on %s#%d: %s\n", what, comment.ID, f.repo, f.pr, comment.URL)
	return nil
}

// configStack returns stack name of the config file (the only one when
// name is empty).
func configStack(config, name string) (*stack.Stack, error) {
	cfg, err := stack.Load(config)
	if err != nil {
		return nil, err
	}
	if name == "" {
		if len(cfg.Stacks) == 1 {
			return &cfg.Stacks[0], nil
		}
		return nil, fmt.Errorf("%s declares %d stacks (%s): choose one with --stack", config, len(cfg.Stacks), strings.Join(cfg.Names(), ", "))
	}
	s, ok := cfg.Find(name)
	if !ok {
		return nil, fmt.Errorf("no stack %q in %s (it declares: %s)", name, config, strings.Join(cfg.Names(), ", "))
	}
	return s, nil
}

// appAuth reads the GitHub App's flags and key.
func appAuth(f *reviewFlags) (*review.AppAuth, error) {
	if f.appID == 0 || f.appInstall == 0 {
		return nil, fmt.Errorf("a GitHub App needs both --app-id and --app-installation-id")
	}
	key := []byte(os.Getenv("GITHUB_APP_PRIVATE_KEY"))
	if f.appKeyFile != "" {
		var err error
		if key, err = os.ReadFile(f.appKeyFile); err != nil {
			return nil, fmt.Errorf("--app-key-file: %w", err)
		}
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("GitHub App %s: give its private key in GITHUB_APP_PRIVATE_KEY or --app-key-file", strconv.FormatInt(f.appID, 10))
	}
	k, err := review.ParseAppKey(key)
	if err != nil {
		return nil, err
	}
	return &review.AppAuth{AppID: f.appID, InstallationID: f.appInstall, Key: k}, nil
}

// withoutDatabase removes from msg what names the database of the store:
// its description (Where), its host or socket directory, and its user and
// name where a driver or server message quotes them (user=NAME,
// database "NAME", ...). Bare words are left: the embedded database's user
// is "gantry", which error texts also say for other reasons.
func withoutDatabase(msg string, store interface {
	Where() string
	Coordinates() (host, user, database string)
}) string {
	host, user, database := store.Coordinates()
	var pairs []string
	for _, c := range []struct{ value, label string }{{store.Where(), ""}, {host, ""}, {user, "user"}, {database, "database"}} {
		switch {
		case c.value == "":
		case c.label == "":
			pairs = append(pairs, c.value, "(the database)")
		default:
			for _, form := range []string{c.label + "=%s", c.label + " %q", c.label + "=%q"} {
				pairs = append(pairs, fmt.Sprintf(form, c.value), strings.Replace(strings.Replace(form, "%s", "…", 1), "%q", `"…"`, 1))
			}
		}
	}
	for _, form := range []string{"dbname=%s", "role %q"} {
		value := database
		if form == "role %q" {
			value = user
		}
		if value != "" {
			pairs = append(pairs, fmt.Sprintf(form, value), strings.Replace(strings.Replace(form, "%s", "…", 1), "%q", `"…"`, 1))
		}
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/source/artifact"
	"github.com/gantryops/gantry/source/helmrepo"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// stackFlags select a stack: from gantry.yaml, or ad hoc from a repository.
type stackFlags struct {
	config, stackName string
	repo, ref, path   string
	chartRepo, chart  string
	chartVersion      string
	artifact          string
	artifactSemver    string
	forceConflicts    bool
	allowRemote       bool
	insecureCreds     bool
	maxRenderBytes    string
	gitCacheDir       string
}

// add registers the flags; verb names the command in their help.
func (f *stackFlags) add(fl *pflag.FlagSet, verb string) {
	fl.StringVar(&f.config, "config", "gantry.yaml", "stack config file")
	fl.StringVar(&f.stackName, "stack", "", "stack to "+verb+" (from --config), or the name of an ad hoc stack")
	fl.StringVar(&f.repo, "repo", "", "ad hoc: Git repository (path, file://, https:// or ssh://)")
	fl.StringVar(&f.ref, "ref", stack.DefaultRef, "ad hoc: branch, tag, HEAD or full commit SHA")
	fl.StringVar(&f.path, "path", ".", "ad hoc: path inside the repository (or the artifact)")
	fl.StringVar(&f.chartRepo, "chart-repo", "", "ad hoc, instead of --repo: Helm repository (http(s) or oci:// URL; credentials from GANTRY_HELM_USERNAME/PASSWORD for GANTRY_HELM_REPOSITORY, or for oci:// a Docker config file)")
	fl.StringVar(&f.chart, "chart", "", "ad hoc, with --chart-repo: the chart's name")
	fl.StringVar(&f.chartVersion, "chart-version", "", "ad hoc, with --chart-repo: exact version or semver range")
	fl.StringVar(&f.artifact, "artifact", "", "ad hoc, instead of --repo: OCI artifact oci://HOST/PATH:TAG or oci://HOST/PATH@sha256:… (--path inside it)")
	fl.StringVar(&f.artifactSemver, "artifact-semver", "", "ad hoc, with --artifact oci://HOST/PATH: the highest tag this semver range matches")
	fl.BoolVar(&f.forceConflicts, "force-conflicts", false, "ad hoc: take over fields other field managers own")
	fl.BoolVar(&f.allowRemote, "allow-remote-bases", false, "ad hoc: let kustomizations fetch remote bases")
	fl.BoolVar(&f.insecureCreds, "allow-insecure-http-credentials", false, "ad hoc: send Git credentials to an http:// --repo, in clear text")
	fl.StringVar(&f.maxRenderBytes, "max-render-bytes", "", "ad hoc: bytes a render may read from the commit, e.g. 512Mi (default 256Mi)")
	fl.StringVar(&f.gitCacheDir, "git-cache-dir", "", "Git cache directory (default $XDG_CACHE_HOME/gantry/git)")
}

// resolveStack finds the stack in the config file, or builds an ad hoc one.
func (g *globals) resolveStack(cmd *cobra.Command, f *stackFlags) (*stack.Stack, error) {
	if f.repo == "" && f.chartRepo == "" && f.artifact == "" {
		if nsFlag := cmd.Flags().Lookup("namespace"); nsFlag != nil && nsFlag.Changed {
			return nil, errors.New("--namespace applies to ad hoc stacks (--repo); for a stack in gantry.yaml set target.namespace there")
		}
		for _, name := range []string{"ref", "path", "force-conflicts", "allow-remote-bases", "allow-insecure-http-credentials", "max-render-bytes", "chart", "chart-version", "artifact-semver"} {
			if cmd.Flags().Lookup(name).Changed {
				return nil, fmt.Errorf("--%s applies to ad hoc stacks (with --repo); for a stack in gantry.yaml set it there", name)
			}
		}
		return configStack(f.config, f.stackName)
	}
	changed := map[string]bool{}
	cmd.Flags().Visit(func(fl *pflag.Flag) { changed[fl.Name] = true })
	if msg := adHocFlagProblem(changed); msg != "" {
		return nil, errors.New(msg)
	}
	name := f.stackName
	if name == "" {
		name = adHocName(f.repo, f.path)
		if f.chartRepo != "" {
			name = adHocName(f.chart, ".")
		}
		if f.artifact != "" { // named after the repository, not the tag: the next tag is the same stack
			name = adHocName(stack.ParseArtifactRef(f.artifact).URL, f.path)
		}
	}
	ns := ""
	if g.kube.Namespace != nil {
		ns = *g.kube.Namespace
	}
	src := stack.Source{Repo: f.repo, Ref: f.ref, Path: f.path, AllowRemoteBases: f.allowRemote, AllowInsecureHTTPCredentials: f.insecureCreds}
	if f.chartRepo != "" {
		src.Chart = &stack.Chart{Repository: f.chartRepo, Name: f.chart, Version: f.chartVersion}
	}
	if f.artifact != "" {
		a := stack.ParseArtifactRef(f.artifact)
		a.Semver = f.artifactSemver
		src.Artifact = &a
	}
	b, err := maxRenderBytesFlag(f.maxRenderBytes)
	if err != nil {
		return nil, err
	}
	src.MaxRenderBytes = b
	return stack.AdHoc(name, src, ns, f.forceConflicts)
}

// adHocSources are the flags naming an ad hoc stack's source, and the flags
// that apply to no other source.
var adHocSources = []struct {
	flag string
	only []string
}{
	{"repo", []string{"ref", "allow-insecure-http-credentials"}},
	{"chart-repo", []string{"chart", "chart-version"}},
	{"artifact", []string{"artifact-semver"}},
}

// adHocFlagProblem refuses flags (changed: by name) that do not apply to
// the ad hoc stack's source: --ref with an artifact, --chart with a Git
// repository, --path with a chart (rendered whole), …, naming them; "" when
// they all apply. A pure function.
func adHocFlagProblem(changed map[string]bool) string {
	var sources []string
	for _, s := range adHocSources {
		if changed[s.flag] {
			sources = append(sources, "--"+s.flag)
		}
	}
	if len(sources) > 1 {
		return "an ad hoc stack takes one source: " + strings.Join(sources, ", ") + " were given"
	}
	for _, s := range adHocSources {
		if len(sources) == 1 && sources[0] == "--"+s.flag {
			continue
		}
		for _, only := range s.only {
			if changed[only] {
				return fmt.Sprintf("--%s applies to a stack from --%s, not from %s", only, s.flag, strings.Join(sources, ""))
			}
		}
	}
	if changed["chart-repo"] && changed["path"] {
		return "--path does not apply to a chart from --chart-repo: it is rendered whole"
	}
	return ""
}

// maxRenderBytesFlag reads --max-render-bytes: 0 (the default) when it is
// not given.
func maxRenderBytesFlag(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := stack.ParseByteSize(s)
	if err != nil {
		return 0, fmt.Errorf("--max-render-bytes: %w", err)
	}
	return b, nil
}

// session is what commands that plan or apply need: the cluster, the
// database and the engine over both. Commands that only read the record
// (history, show, diff, gc, resume) leave cluster nil.
type session struct {
	log     hclog.Logger
	cluster *kube.Cluster
	store   *state.Store
	engine  *engine.Engine
}

// sessionOptions say what a command needs of its session.
type sessionOptions struct {
	// gitCacheDir is --git-cache-dir ("": the default).
	gitCacheDir string
	// stacks are the stacks the command may fetch: those allowing Git
	// credentials over plain http:// get them
	// (source.allowInsecureHTTPCredentials), no other repository does.
	stacks []stack.Stack
	// readOnly opens the database read-only (gantry review): no migration,
	// the schema version checked, every write refused.
	readOnly bool
	// keyOptional: the command seals, unseals and keys nothing, so it may
	// run without GANTRY_SECRET_KEY on a database sealed with one
	// (state.Options.KeyOptional).
	keyOptional bool
}

// newSession connects to the cluster and the database.
func (g *globals) newSession(ctx context.Context, opts sessionOptions) (*session, error) {
	log, err := g.logger()
	if err != nil {
		return nil, err
	}
	restConfig, err := g.kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w: pass --kubeconfig or set KUBECONFIG", err)
	}
	kopts := kube.DefaultOptions()
	kopts.Logger = log
	if g.kube.CacheDir != nil {
		kopts.DiscoveryCacheDir = *g.kube.CacheDir // kubectl's --cache-dir, shared with it
	}
	cluster, err := kube.Connect(ctx, restConfig, kopts)
	if err != nil {
		return nil, err
	}
	sess, err := g.newDBSession(ctx, log, opts)
	if err != nil {
		return nil, err
	}
	sess.cluster = cluster
	return sess, nil
}

// newDBSession opens the database only; log nil builds the flags' logger.
func (g *globals) newDBSession(ctx context.Context, log hclog.Logger, opts sessionOptions) (*session, error) {
	if log == nil {
		var err error
		if log, err = g.logger(); err != nil {
			return nil, err
		}
	}
	store, err := g.openStore(ctx, log, opts)
	if err != nil {
		return nil, err
	}
	fetch := source.DefaultFetchOptions()
	if opts.gitCacheDir != "" {
		fetch.CacheDir = opts.gitCacheDir
	}
	fetch.Auth, fetch.Logger = source.AuthFromEnv(), log
	for _, s := range opts.stacks {
		if s.Source.AllowInsecureHTTPCredentials {
			fetch.InsecureHTTPCredentials = append(fetch.InsecureHTTPCredentials, s.Source.Repo)
		}
	}
	hopts, err := helmrepo.FromEnv(filepath.Join(filepath.Dir(fetch.CacheDir), "helm"))
	if err != nil {
		store.Close()
		return nil, err
	}
	charts, err := helmrepo.New(hopts)
	if err != nil {
		store.Close()
		return nil, err
	}
	arts, err := artifact.New(artifact.Options{CacheDir: filepath.Join(filepath.Dir(fetch.CacheDir), "oci"), HTTP: hopts.HTTP, Credentials: hopts.Credentials})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &session{log: log, store: store, engine: engine.New(store, source.NewFetcher(fetch), engine.Options{Logger: log, Charts: charts, Artifacts: arts})}, nil
}

func (s *session) Close() { s.store.Close() }

// actorName is who runs gantry, for the audit log: --actor, else the OS user.
func (g *globals) actorName() string {
	if g.actor != "" {
		return g.actor
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

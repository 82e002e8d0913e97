package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/sensitive"
	"github.com/gantryops/gantry/source"
)

func newRenderCommand(g *globals) *cobra.Command {
	var (
		repo, ref, path, output, cacheDir string
		maxRenderBytes                    string
		allowRemote                       bool
		auth                              = source.AuthFromEnv()
	)
	cmd := &cobra.Command{
		Use:   "render --repo REPO --ref REF [--path PATH]",
		Short: "Render a Git commit into the objects gantry would manage",
		Long: `Render fetches REF (a branch, tag, HEAD, full ref name or full commit SHA) of REPO (a path,
file://, https:// or ssh:// URL) and renders PATH: with kustomize when it holds
a kustomization, otherwise as a directory of YAML and JSON manifests (recursive,
multi-document, List kinds flattened). Objects are printed sorted by group,
kind, namespace and name; Secret values are masked.

Credentials come from the environment: GANTRY_GIT_TOKEN, or GANTRY_GIT_USERNAME
and GANTRY_GIT_PASSWORD, for HTTPS; GANTRY_GIT_SSH_KEY, GANTRY_GIT_SSH_KEY_PASSPHRASE
and GANTRY_GIT_KNOWN_HOSTS for SSH.`,
		Example: `  gantry render --repo https://github.com/stefanprodan/podinfo --ref 6.7.0 --path kustomize
  gantry render --repo . --ref main --path deploy/overlays/prod -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := oneOf("output", output, "yaml", "json"); err != nil {
				return err
			}
			if repo == "" || ref == "" {
				return fmt.Errorf("--repo and --ref are required: name the repository and the branch, tag or commit to render")
			}
			ropts := source.DefaultRenderOptions()
			ropts.AllowRemoteBases = allowRemote
			if b, err := maxRenderBytesFlag(maxRenderBytes); err != nil {
				return err
			} else if b > 0 {
				ropts.MaxRenderBytes = b
			}
			return g.render(cmd.Context(), repo, ref, path, output, cacheDir, auth, ropts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&repo, "repo", "", "Git repository: a local path, file://, https:// or ssh:// URL")
	f.StringVar(&ref, "ref", "", "branch, tag, full ref name or full 40-character commit SHA")
	f.StringVar(&path, "path", ".", "directory (or file) inside the repository to render")
	f.StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	f.StringVar(&cacheDir, "git-cache-dir", "", "Git cache directory (default $XDG_CACHE_HOME/gantry/git)")
	f.BoolVar(&allowRemote, "allow-remote-bases", false, "let kustomizations fetch remote bases and files (needs git on PATH)")
	f.StringVar(&maxRenderBytes, "max-render-bytes", "", "bytes the render may read from the commit, every read counted, e.g. 512Mi (default 256Mi)")
	f.StringVar(&auth.SSHKeyFile, "ssh-key", auth.SSHKeyFile, "SSH private key file (env GANTRY_GIT_SSH_KEY)")
	f.StringVar(&auth.KnownHostsFile, "known-hosts", auth.KnownHostsFile, "SSH known_hosts file (env GANTRY_GIT_KNOWN_HOSTS)")
	return cmd
}

// render fetches ref of repo, renders path and prints the objects.
func (g *globals) render(ctx context.Context, repo, ref, path, output, cacheDir string, auth source.Auth, ropts source.RenderOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	ropts.Logger = log
	opts := source.DefaultFetchOptions()
	if cacheDir != "" {
		opts.CacheDir = cacheDir
	}
	opts.Auth, opts.Logger = auth, log
	c, err := source.NewFetcher(opts).Fetch(ctx, repo, ref)
	if err != nil {
		return err
	}
	rev, err := c.Render(ctx, path, ropts)
	if err != nil {
		return err
	}
	if err := printObjects(g, output, rev.Objects); err != nil {
		return err
	}
	// No digest: revision digests are keyed with a stack's key (they cover
	// Secret values), and render has no stack.
	fmt.Fprintf(g.stderr, "Rendered %d objects from %s at %s (commit %s).\n", len(rev.Objects), c.Repo, ref, rev.Commit)
	return nil
}

// printObjects writes objects, Secret values masked, as a YAML stream or as
// a JSON v1 List (the shapes kubectl reads back). render names no stack,
// so no declared sensitive fields: a Secret's content is what it masks.
func printObjects(g *globals, output string, objs []*unstructured.Unstructured) error {
	shown := make([]any, len(objs))
	for i, u := range objs {
		shown[i] = sensitive.Policy{}.Redacted(u).Object
	}
	if output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": shown})
	}
	for i, o := range shown {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := fmt.Fprintln(g.stdout, "---"); err != nil {
				return err
			}
		}
		if _, err := g.stdout.Write(b); err != nil {
			return err
		}
	}
	return nil
}

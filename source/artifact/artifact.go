// Package artifact fetches OCI artifacts of manifests from registries: the
// format of `flux push artifact` (a layer of media type
// application/vnd.cncf.flux.content.v1.tar+gzip) and tarballs pushed with
// `oras push`. It resolves a tag, a semver range or a digest to the
// artifact's manifest digest, and extracts the artifact's layer, bounded
// and checked entry by entry, into the cache's artifact store
// (source.ArtifactStore) by that digest: an artifact pinned by digest and
// stored costs no request, a tag one.
package artifact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/gantryops/gantry/internal/atomicfile"
	"github.com/gantryops/gantry/internal/ocitags"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/stack"
)

// FluxContentMediaType is the media type of the layer `flux push
// artifact` writes: a tar+gzip of the manifests.
const FluxContentMediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"

// Artifact is a resolved stack.Artifact.
type Artifact struct {
	stack.Artifact
	// Version is the tag resolved (the tag asked, or the highest matching
	// the range); empty when asked by digest.
	Version string
	// Digest is the manifest's SHA-256, hex.
	Digest string
}

// Options configure a Client.
type Options struct {
	// CacheDir holds the artifact store and what tags resolved to.
	CacheDir string
	// HTTP's transport sends the requests (nil: http.DefaultTransport).
	HTTP *http.Client
	// Timeout bounds each Resolve and each Pull (0: 2 minutes): a
	// registry that stalls fails its stack, not the process.
	Timeout time.Duration
	// Credentials returns the user and password for a repository URL
	// ("", "": none), sent to that registry and the token service it
	// names only.
	Credentials func(repoURL string) (user, password string)
	// Limits bound what a layer may hold.
	Limits Limits
}

// Client fetches artifacts.
type Client struct {
	opts  Options
	store *source.ArtifactStore

	mu         sync.Mutex
	transports map[string]http.RoundTripper // by repository, authenticated
}

// New returns a Client.
func New(opts Options) (*Client, error) {
	if opts.CacheDir == "" {
		return nil, errors.New("OCI artifacts need a cache directory")
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	opts.Limits = opts.Limits.withDefaults()
	store, err := source.OpenArtifactStore(filepath.Join(opts.CacheDir, "store"))
	if err != nil {
		return nil, err
	}
	return &Client{opts: opts, store: store, transports: map[string]http.RoundTripper{}}, nil
}

// repository parses oci://HOST/PATH.
func repository(url string) (name.Repository, error) {
	rest, ok := strings.CutPrefix(url, "oci://")
	if !ok || strings.ContainsAny(rest, "@") || strings.Contains(rest, "://") {
		return name.Repository{}, fmt.Errorf("%q: write oci://HOST/PATH, without a tag, a digest or credentials", url)
	}
	repo, err := name.NewRepository(strings.TrimSuffix(rest, "/"), name.StrictValidation)
	if err != nil {
		return name.Repository{}, fmt.Errorf("%q: %w", url, err)
	}
	return repo, nil
}

// Resolve resolves r: a digest costs no request, a tag one (its manifest's
// digest, asked with HEAD: a tag may move), a range one to list the tags
// and, the first time a tag is chosen, one for its digest (a version's
// tag is taken as immutable, as Helm takes a chart's).
func (c *Client) Resolve(ctx context.Context, r stack.Artifact) (*Artifact, error) {
	if p := r.Problems(); len(p) > 0 {
		return nil, fmt.Errorf("artifact %s: %s", r.URL, strings.Join(p, "; "))
	}
	repo, err := repository(r.URL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	a := &Artifact{Artifact: r, Version: r.Tag}
	if r.Digest != "" {
		a.Digest = strings.TrimPrefix(r.Digest, "sha256:")
		return a, nil
	}
	if r.Semver != "" {
		tags, err := ocitags.List(ctx, repo, c.remote(ctx, r.URL)...)
		if err != nil {
			return nil, fmt.Errorf("%s: list tags: %w", repo, err)
		}
		if a.Version, err = highest(tags, r.Semver); err != nil {
			return nil, fmt.Errorf("%s: %w", repo, err)
		}
		if d, ok := c.knownVersion(repo, a.Version); ok {
			a.Digest = d
			return a, nil
		}
	}
	desc, err := remote.Head(repo.Tag(a.Version), c.remote(ctx, r.URL)...)
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", repo, a.Version, err)
	}
	if desc.Digest.Algorithm != "sha256" {
		return nil, fmt.Errorf("%s:%s: digest %s is not a SHA-256", repo, a.Version, desc.Digest)
	}
	a.Digest = desc.Digest.Hex
	if r.Semver != "" {
		c.rememberVersion(repo, a.Version, a.Digest)
	}
	return a, nil
}

// versionFile records the digest a semver-chosen tag of repo resolved
// to: named by a hash of both, so that no two repositories share one
// (a name spelled with "_" or "/" is another repository) and nothing a
// registry names reaches a path.
func (c *Client) versionFile(repo name.Repository, tag string) string {
	sum := sha256.Sum256([]byte(repo.String() + "\x00" + tag))
	return filepath.Join(c.opts.CacheDir, "tags", hex.EncodeToString(sum[:]))
}

func (c *Client) knownVersion(repo name.Repository, tag string) (string, bool) {
	data, err := os.ReadFile(c.versionFile(repo, tag))
	d := strings.TrimSpace(string(data))
	return d, err == nil && source.ValidDigest(d)
}

func (c *Client) rememberVersion(repo name.Repository, tag, digest string) {
	_ = atomicfile.Write(c.versionFile(repo, tag), []byte(digest+"\n")) // a cache: lost, it is asked again
}

// forgetVersion drops what a tag resolved to, when its artifact could not
// be pulled: the next Resolve asks the registry again.
func (c *Client) forgetVersion(a *Artifact) {
	if repo, err := repository(a.URL); err == nil && a.Semver != "" {
		_ = os.Remove(c.versionFile(repo, a.Version))
	}
}

// Pull returns the artifact's files as a commit to render: from the store
// by digest (and layer media type) with no request, else its manifest and
// layer fetched by digest and extracted into the store. The layer is
// downloaded whole to a temporary file first (at most MaxLayerBytes) and
// verified against its digest before a byte of it is extracted, so that a
// tampered or damaged layer writes nothing to the store.
func (c *Client) Pull(ctx context.Context, a *Artifact) (*source.Commit, error) {
	ref, key := a.Asked(), storeKey(a)
	if commit, ok, err := c.store.Commit(key, a.Digest, a.URL, ref); err != nil || ok {
		return commit, err
	}
	commit, err := c.pull(ctx, a, ref, key)
	if err != nil {
		c.forgetVersion(a)
	}
	return commit, err
}

func (c *Client) pull(ctx context.Context, a *Artifact, ref, key string) (*source.Commit, error) {
	repo, err := repository(a.URL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	at := repo.Digest("sha256:" + a.Digest)
	desc, err := remote.Get(at, c.remote(ctx, a.URL)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil || desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s (%s) is not an artifact's manifest: push it with `flux push artifact` or `oras push`", at, desc.MediaType)
	}
	layer, err := selectLayer(m, a.MediaType)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	if layer.Size > c.opts.Limits.MaxLayerBytes {
		return nil, fmt.Errorf("%s: its layer is %d bytes, over the limit of %d", at, layer.Size, c.opts.Limits.MaxLayerBytes)
	}
	if err := c.extractLayer(ctx, repo, a, layer, key); err != nil {
		return nil, fmt.Errorf("artifact %s: %w", at, err)
	}
	commit, ok, err := c.store.Commit(key, a.Digest, a.URL, ref)
	if err == nil && !ok {
		err = fmt.Errorf("artifact %s: stored, then not found in the store", at)
	}
	return commit, err
}

// storeKey names an artifact's tree in the store: its manifest's digest,
// and the layer media type asked for (another layer of the same artifact
// is another tree).
func storeKey(a *Artifact) string {
	if a.MediaType == "" {
		return a.Digest
	}
	sum := sha256.Sum256([]byte(a.Digest + "\x00" + a.MediaType))
	return hex.EncodeToString(sum[:])
}

// extractLayer downloads the layer by digest into a temporary file,
// verified as it is read to its end, then extracts the file into a tree of
// the store named key.
func (c *Client) extractLayer(ctx context.Context, repo name.Repository, a *Artifact, desc v1.Descriptor, key string) error {
	l, err := remote.Layer(repo.Digest(desc.Digest.String()), c.remote(ctx, a.URL)...)
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(c.opts.CacheDir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.opts.CacheDir, ".layer-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	capped := &capped{r: rc, left: c.opts.Limits.MaxLayerBytes, what: "the layer as stored"}
	if _, err := io.Copy(tmp, capped); err != nil { // the digest is checked at EOF
		return fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	b := c.store.Builder(c.opts.Limits.MaxEntries)
	if err := Extract(tmp, c.opts.Limits, b.Add); err != nil {
		return fmt.Errorf("layer %s (%s): %w", desc.Digest, desc.MediaType, err)
	}
	return b.Finish(key)
}

// remote are the registry client's options: this context, and a
// transport to repoURL's repository authenticated once per process (the
// registry's ping and token exchange are not repeated for every request:
// a tag resolved later costs its one request), with the credentials for
// repoURL.
func (c *Client) remote(ctx context.Context, repoURL string) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx)}
	repo, err := repository(repoURL)
	if err != nil {
		return opts
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.transports[repo.String()]; ok {
		return append(opts, remote.WithTransport(t))
	}
	base := c.opts.HTTP.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	base = ocitags.LimitPages(base)
	auth := authn.Anonymous
	if c.opts.Credentials != nil {
		if user, pass := c.opts.Credentials(repoURL); user != "" || pass != "" {
			auth = &authn.Basic{Username: user, Password: pass}
		}
	}
	t, err := transport.NewWithContext(ctx, repo.Registry, auth, base, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		// Unreachable, or its challenge unreadable: the request itself
		// will say so, through the plain transport.
		return append(opts, remote.WithTransport(base), remote.WithAuth(auth))
	}
	c.transports[repo.String()] = t
	return append(opts, remote.WithTransport(t))
}

// selectLayer picks the layer of m to extract: the first of mediaType, or
// without one the first (as Flux's OCIRepository does).
func selectLayer(m *v1.Manifest, mediaType string) (v1.Descriptor, error) {
	if len(m.Layers) == 0 {
		return v1.Descriptor{}, errors.New("the artifact has no layer")
	}
	if mediaType == "" {
		return m.Layers[0], nil
	}
	var types []string
	for _, l := range m.Layers {
		if string(l.MediaType) == mediaType {
			return l, nil
		}
		types = append(types, string(l.MediaType))
	}
	return v1.Descriptor{}, fmt.Errorf("no layer of media type %s (it has %s): check source.artifact.mediaType", mediaType, strings.Join(types, ", "))
}

// highest is the highest tag constraint matches (a leading "v" allowed).
func highest(tags []string, constraint string) (string, error) {
	tag, _, ok, err := ocitags.Highest(tags, constraint, func(t string) string { return t })
	switch {
	case err != nil:
		return "", fmt.Errorf("semver %q: %w", constraint, err)
	case !ok:
		return "", fmt.Errorf("no tag matches %s", constraint)
	}
	return tag, nil
}

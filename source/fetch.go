package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/hashicorp/go-hclog"
)

// FetchOptions configures a Fetcher.
type FetchOptions struct {
	// CacheDir holds one bare repository per remote URL, reused between runs
	// so that later fetches transfer only new objects.
	CacheDir string
	// Auth holds the credentials offered to remotes; the zero value offers none.
	Auth Auth
	// InsecureHTTPCredentials lists repositories (as stacks name them) served
	// over plain http:// that may nevertheless be sent Auth's HTTP
	// credentials (a stack's source.allowInsecureHTTPCredentials). Other
	// http:// remotes are sent none: they travel in clear text.
	InsecureHTTPCredentials []string
	// Logger receives debug lines about fetches; nil discards them.
	Logger hclog.Logger
}

// DefaultFetchOptions returns options with the cache in
// $XDG_CACHE_HOME/gantry/git (or the OS's user cache directory).
func DefaultFetchOptions() FetchOptions {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return FetchOptions{CacheDir: filepath.Join(dir, "gantry", "git")}
}

// Fetcher fetches Git repositories into a cache directory. It is safe for
// concurrent use, also by several processes sharing one cache: each cached
// repository is guarded by a file lock.
type Fetcher struct {
	opts FetchOptions
	log  hclog.Logger
	// insecureHTTP holds the normalised URLs of InsecureHTTPCredentials.
	insecureHTTP map[string]bool
}

// NewFetcher returns a Fetcher using opts.
func NewFetcher(opts FetchOptions) *Fetcher {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	insecure := map[string]bool{}
	for _, repo := range opts.InsecureHTTPCredentials {
		if u, _, err := normaliseURL(repo); err == nil && remoteScheme(u) == "http" {
			insecure[u] = true
		}
	}
	return &Fetcher{opts: opts, log: log.Named("git"), insecureHTTP: insecure}
}

// Commit is one resolved commit of a fetched repository.
type Commit struct {
	// Repo is the repository as given, with any credentials removed.
	Repo string
	// Ref is the branch, tag or SHA that was asked for.
	Ref string
	// SHA is the full hex commit hash Ref resolved to.
	SHA string

	commit  *object.Commit
	tree    plumbing.Hash          // the root tree's hash; the tree is decoded by a render's view, with its bounds
	tag     *object.Tag            // the annotated tag Ref names, if it names one
	tagName plumbing.ReferenceName // the ref tag was found by (refs/tags/...)
	repo    *git.Repository        // the cache the commit was read from
	dir     string                 // the cache's directory, for the render sandbox
}

var (
	fullSHA  = regexp.MustCompile(`^[0-9a-f]{40}$`)
	shortSHA = regexp.MustCompile(`^[0-9a-f]{4,39}$`)
)

// Fetch resolves ref in the repository at repo and returns that commit.
// ref is a branch name, a tag name, a full ref name (refs/heads/main) or a
// full 40-character commit SHA. Branch and tag names are resolved against the
// remote's current refs on every call, so a force-pushed branch yields its new
// commit; a commit SHA already in the cache costs no network round trip.
func (f *Fetcher) Fetch(ctx context.Context, repo, ref string) (*Commit, error) {
	if ref == "" {
		return nil, fmt.Errorf("fetch %s: no ref given: name a branch, tag or full commit SHA", redact(repo))
	}
	remoteURL, urlAuth, err := normaliseURL(repo)
	if err != nil {
		return nil, err
	}
	shown := redact(remoteURL) // credentials were moved out of http(s) URLs
	dir := filepath.Join(f.opts.CacheDir, cacheKey(remoteURL))
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: cache %s: %w", shown, dir, err)
	}
	defer unlock()

	r, err := openCache(dir, remoteURL)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: cache %s: %w", shown, dir, err)
	}
	creds, withheld := f.credentials(remoteURL, urlAuth)
	auth, err := creds.method(remoteURL)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", shown, err)
	}
	hash, name, err := f.resolve(ctx, r, ref, auth)
	if err != nil {
		if withheld && errors.Is(err, transport.ErrAuthenticationRequired) {
			err = fmt.Errorf("%w; credentials are configured but were not sent: %s is a plain %s:// URL, where anyone on the path can read them: use https://, or, if the network is trusted, allow it with source.allowInsecureHTTPCredentials: true (--allow-insecure-http-credentials)", err, shown, remoteScheme(remoteURL))
		}
		return nil, fmt.Errorf("fetch %s at %q: %w", shown, ref, err)
	}
	c, err := r.CommitObject(hash)
	if err != nil {
		return nil, fmt.Errorf("fetch %s at %q: commit %s: %w", shown, ref, hash, err)
	}
	tag := annotatedTag(r, name, hash)
	var tagName plumbing.ReferenceName
	if tag != nil {
		tagName = name
	}
	return &Commit{Repo: shown, Ref: ref, SHA: hash.String(), commit: c, tree: c.TreeHash, tag: tag, tagName: tagName, repo: r, dir: dir}, nil
}

// annotatedTag returns the annotated tag that name, the remote ref the
// fetch matched, points at, when name is a tag (refs/tags/...) and the tag
// peels to commit; else nil. Only that ref is asked: a tag of the same name
// left in the cache from an earlier fetch (the remote deleted it, and a
// branch now has its name) must not vouch for the commit a branch holds.
func annotatedTag(r *git.Repository, name plumbing.ReferenceName, commit plumbing.Hash) *object.Tag {
	if !name.IsTag() {
		return nil
	}
	rf, err := r.Reference(name, false)
	if err != nil {
		return nil
	}
	t, err := r.TagObject(rf.Hash())
	if err != nil {
		return nil
	}
	if peeled, err := peel(r, rf.Hash()); err != nil || peeled != commit {
		return nil
	}
	return t
}

// resolve returns the commit ref names and the remote ref it matched (none
// for a commit SHA), fetching what the cache lacks.
func (f *Fetcher) resolve(ctx context.Context, r *git.Repository, ref string, auth transport.AuthMethod) (plumbing.Hash, plumbing.ReferenceName, error) {
	if fullSHA.MatchString(ref) {
		h := plumbing.NewHash(ref)
		if _, err := r.CommitObject(h); err == nil {
			f.log.Debug("commit already cached", "commit", ref)
			return h, "", nil
		}
		// The commit may be on any branch or tag: fetch them all, then look again.
		if err := f.fetch(ctx, r, auth, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"); err != nil {
			return plumbing.ZeroHash, "", err
		}
		if _, err := r.CommitObject(h); err != nil {
			return plumbing.ZeroHash, "", fmt.Errorf("%w: commit %s is not on any branch or tag of the repository", ErrRefNotFound, ref)
		}
		return h, "", nil
	}

	remote, err := r.Remote("origin")
	if err != nil {
		return plumbing.ZeroHash, "", err
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return plumbing.ZeroHash, "", describeTransportError(err)
	}
	name, err := matchRef(refs, ref)
	if err != nil {
		return plumbing.ZeroHash, "", err
	}
	h, err := f.fetchRef(ctx, r, refs, name, auth)
	return h, name, err
}

// fetchRef brings the remote ref name (advertised in refs) into the cache,
// unless the cache holds its object already, and returns its commit.
func (f *Fetcher) fetchRef(ctx context.Context, r *git.Repository, refs []*plumbing.Reference, name plumbing.ReferenceName, auth transport.AuthMethod) (plumbing.Hash, error) {
	local := plumbing.ReferenceName("refs/remotes/origin/" + strings.TrimPrefix(name.String(), "refs/heads/"))
	if name.IsTag() {
		local = name
	}
	// When the cache already holds the advertised object, the ref listing was
	// the only request needed: point the local ref at it and skip the fetch.
	if h, ok := advertised(refs, name); ok && hasObject(r, h) {
		if err := r.Storer.SetReference(plumbing.NewHashReference(local, h)); err != nil {
			return plumbing.ZeroHash, err
		}
		f.log.Debug("ref unchanged since the last fetch", "ref", name, "commit", h)
		return peel(r, h)
	}
	if err := f.fetch(ctx, r, auth, "+"+name.String()+":"+local.String()); err != nil {
		return plumbing.ZeroHash, err
	}
	got, err := r.Reference(local, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%s was fetched but is missing from the cache: %w", name, err)
	}
	return peel(r, got.Hash())
}

func (f *Fetcher) fetch(ctx context.Context, r *git.Repository, auth transport.AuthMethod, specs ...string) error {
	refSpecs := make([]config.RefSpec, len(specs))
	for i, s := range specs {
		refSpecs[i] = config.RefSpec(s)
	}
	f.log.Debug("fetching", "refspecs", specs)
	err := r.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   refSpecs,
		Auth:       auth,
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return describeTransportError(err)
	}
	return nil
}

// matchRef finds the remote ref that ref names: a full ref name, else a branch
// or a tag of that name. A name that is both is ambiguous rather than guessed.
func matchRef(refs []*plumbing.Reference, ref string) (plumbing.ReferenceName, error) {
	have := make(map[plumbing.ReferenceName]bool, len(refs))
	for _, r := range refs {
		have[r.Name()] = true
	}
	if ref == "HEAD" {
		return defaultBranch(refs)
	}
	if strings.HasPrefix(ref, "refs/") {
		if have[plumbing.ReferenceName(ref)] {
			return plumbing.ReferenceName(ref), nil
		}
		return "", fmt.Errorf("%w: the repository has no ref %s", ErrRefNotFound, ref)
	}
	branch, tag := plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref)
	switch {
	case have[branch] && have[tag]:
		return "", fmt.Errorf("%q is both a branch and a tag: use refs/heads/%s or refs/tags/%s", ref, ref, ref)
	case have[branch]:
		return branch, nil
	case have[tag]:
		return tag, nil
	}
	hint := ""
	if shortSHA.MatchString(ref) {
		hint = " (an abbreviated commit SHA is not enough: give all 40 characters)"
	}
	return "", fmt.Errorf("%w: no branch or tag named %q%s", ErrRefNotFound, ref, hint)
}

// defaultBranch resolves the remote's HEAD to the branch it names: through the
// symbolic ref when the server advertises it, else the one branch pointing
// at HEAD's commit (main or master first).
func defaultBranch(refs []*plumbing.Reference) (plumbing.ReferenceName, error) {
	var head *plumbing.Reference
	for _, r := range refs {
		if r.Name() == plumbing.HEAD {
			head = r
		}
	}
	if head == nil {
		return "", fmt.Errorf("%w: the repository advertises no HEAD: name a branch", ErrRefNotFound)
	}
	if head.Type() == plumbing.SymbolicReference {
		return head.Target(), nil
	}
	var match []plumbing.ReferenceName
	for _, r := range refs {
		if r.Name().IsBranch() && r.Hash() == head.Hash() {
			match = append(match, r.Name())
		}
	}
	for _, preferred := range []string{"main", "master"} {
		if slices.Contains(match, plumbing.NewBranchReferenceName(preferred)) {
			return plumbing.NewBranchReferenceName(preferred), nil
		}
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return "", fmt.Errorf("%w: cannot tell which branch HEAD is: name a branch", ErrRefNotFound)
}

// advertised returns the hash the remote advertised for name.
func advertised(refs []*plumbing.Reference, name plumbing.ReferenceName) (plumbing.Hash, bool) {
	for _, r := range refs {
		if r.Name() == name && r.Type() == plumbing.HashReference {
			return r.Hash(), true
		}
	}
	return plumbing.ZeroHash, false
}

func hasObject(r *git.Repository, h plumbing.Hash) bool {
	_, err := r.Storer.EncodedObject(plumbing.AnyObject, h)
	return err == nil
}

// ErrRefNotFound is returned (wrapped) when a ref names nothing in the repository.
var ErrRefNotFound = errors.New("ref not found")

// peel follows annotated tags to the commit they point at.
func peel(r *git.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		tag, err := r.TagObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return h, nil
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if tag.TargetType != plumbing.CommitObject && tag.TargetType != plumbing.TagObject {
			return plumbing.ZeroHash, fmt.Errorf("tag %s points at a %s, not a commit", tag.Name, tag.TargetType)
		}
		h = tag.Target
	}
	return plumbing.ZeroHash, fmt.Errorf("tag chain at %s is too deep", h)
}

func describeTransportError(err error) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return fmt.Errorf("authentication failed: the server rejected the credentials (or none were given); check GANTRY_GIT_TOKEN, or GANTRY_GIT_USERNAME and GANTRY_GIT_PASSWORD: %w", err)
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("authorization failed: the credentials are valid but may not read this repository: %w", err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("repository not found: check the URL (private repositories may also answer not found without valid credentials): %w", err)
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return fmt.Errorf("the repository is empty: push a commit first: %w", err)
	case strings.Contains(err.Error(), "knownhosts"):
		return fmt.Errorf("SSH host key verification failed: add the server's key to the known_hosts file (GANTRY_GIT_KNOWN_HOSTS, e.g. with ssh-keyscan): %w", err)
	}
	return err
}

// IsAncestor reports whether commit ancestor is descendant or one of its
// ancestors, in the repository at repo (fetching what the cache lacks).
func (f *Fetcher) IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error) {
	if ancestor == descendant {
		return true, nil
	}
	d, err := f.Fetch(ctx, repo, descendant)
	if err != nil {
		return false, err
	}
	a, err := f.Fetch(ctx, repo, ancestor)
	if err != nil {
		return false, err
	}
	return a.commit.IsAncestor(d.commit)
}

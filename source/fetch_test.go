package source_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

const token = "s3cret-token-value"

// remoteFixture is a repository with two commits on main, a feature branch,
// an annotated and a lightweight tag, pushed to a bare repository that an
// HTTP server with token auth serves.
type remoteFixture struct {
	repo          *gittest.Repo
	srv           *gittest.HTTPServer
	url           string
	first, second string
	featureCommit string
}

func newRemoteFixture(t *testing.T) *remoteFixture {
	t.Helper()
	f := &remoteFixture{repo: gittest.NewRepo(t)}
	f.first = f.repo.Commit("first", map[string]string{"app/cm.yaml": configMap("app", "v1")})
	f.repo.Git("tag", "-a", "v1", "-m", "release v1")
	f.repo.Git("tag", "light")
	f.repo.Git("checkout", "-q", "-b", "feature")
	f.featureCommit = f.repo.Commit("feature", map[string]string{"app/cm.yaml": configMap("app", "feature")})
	f.repo.Git("checkout", "-q", "main")
	f.second = f.repo.Commit("second", map[string]string{"app/cm.yaml": configMap("app", "v2")})
	root := t.TempDir()
	f.repo.Bare(root, "stack")
	f.srv = gittest.NewHTTPServer(t, root, token)
	f.url = f.srv.URL + "/stack.git"
	return f
}

func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: default\ndata:\n  value: %q\n", name, value)
}

// newFetcher returns a fetcher with a cache of its own; insecureHTTP are
// the http:// repositories it may send credentials to (the test servers
// serve plain HTTP on loopback).
func newFetcher(t *testing.T, auth source.Auth, insecureHTTP ...string) *source.Fetcher {
	t.Helper()
	return source.NewFetcher(source.FetchOptions{CacheDir: t.TempDir(), Auth: auth, InsecureHTTPCredentials: insecureHTTP})
}

func TestFetchHTTPResolvesBranchTagAndSHA(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t)
	fetcher := newFetcher(t, source.Auth{Token: token}, f.url)
	ctx := context.Background()
	for _, tc := range []struct {
		ref, want string
	}{
		{"main", f.second},
		{"HEAD", f.second}, // the default branch
		{"feature", f.featureCommit},
		{"refs/heads/feature", f.featureCommit},
		{"v1", f.first},    // annotated tag, peeled to its commit
		{"light", f.first}, // lightweight tag
		{"refs/tags/v1", f.first},
		{f.first, f.first},
		{f.featureCommit, f.featureCommit},
	} {
		c, err := fetcher.Fetch(ctx, f.url, tc.ref)
		if err != nil {
			t.Fatalf("Fetch(%q): %v", tc.ref, err)
		}
		if c.SHA != tc.want {
			t.Errorf("Fetch(%q) = %s, want %s", tc.ref, c.SHA, tc.want)
		}
	}
}

func TestFetchCachedCommitMakesNoRequest(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t)
	fetcher := newFetcher(t, source.Auth{Token: token}, f.url)
	ctx := context.Background()
	if _, err := fetcher.Fetch(ctx, f.url, "main"); err != nil {
		t.Fatal(err)
	}
	f.srv.Requests()
	c, err := fetcher.Fetch(ctx, f.url, f.second)
	if err != nil {
		t.Fatal(err)
	}
	if c.SHA != f.second {
		t.Fatalf("got %s, want %s", c.SHA, f.second)
	}
	if got := f.srv.Requests(); len(got) != 0 {
		t.Errorf("fetching a cached commit by SHA made requests: %v", got)
	}
	// A branch is re-resolved against the remote every time, but an unchanged
	// branch costs exactly one request: the ref advertisement.
	if _, err := fetcher.Fetch(ctx, f.url, "main"); err != nil {
		t.Fatal(err)
	}
	if got := f.srv.Requests(); len(got) != 1 || !strings.HasPrefix(got[0], "GET ") || !strings.HasSuffix(got[0], "/info/refs") {
		t.Errorf("unchanged branch made requests %v, want one GET .../info/refs", got)
	}
	// A lightweight tag of a cached commit costs the same. An annotated tag's
	// own object is fetched once; after that it costs one request too.
	for i, ref := range []string{"light", "v1", "v1"} {
		if c, err := fetcher.Fetch(ctx, f.url, ref); err != nil || c.SHA != f.first {
			t.Fatalf("Fetch(%s) = %v, %v", ref, c, err)
		}
		got := f.srv.Requests()
		if i == 1 && slices.Contains(got, "POST /stack.git/git-upload-pack") {
			continue // the first fetch of the annotated tag object, only
		}
		if len(got) != 1 {
			t.Errorf("Fetch(%s) of a cached object made requests %v, want one", ref, got)
		}
	}
}

func TestFetchForcePushedBranch(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t)
	fetcher := newFetcher(t, source.Auth{Token: token}, f.url)
	ctx := context.Background()
	c, err := fetcher.Fetch(ctx, f.url, "main")
	if err != nil || c.SHA != f.second {
		t.Fatalf("Fetch(main) = %v, %v; want %s", c, err, f.second)
	}
	// Rewrite history: main goes back to the first commit and grows a new one.
	f.repo.Git("reset", "-q", "--hard", f.first)
	rewritten := f.repo.Commit("rewritten", map[string]string{"app/cm.yaml": configMap("app", "v3")})
	f.repo.PushTo("stack")

	c, err = fetcher.Fetch(ctx, f.url, "main")
	if err != nil {
		t.Fatalf("Fetch after force push: %v", err)
	}
	if c.SHA != rewritten {
		t.Errorf("Fetch(main) after force push = %s, want %s", c.SHA, rewritten)
	}
	rev, err := c.Render(context.Background(), "app", source.DefaultRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructuredString(rev.Objects[0], "data", "value"); got != "v3" {
		t.Errorf("rendered value = %q, want v3", got)
	}
}

func TestFetchErrors(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		auth   source.Auth
		repo   string
		ref    string
		want   []string
		wantIs error
	}{
		{name: "wrong token", auth: source.Auth{Token: "wrong"}, ref: "main", want: []string{"authentication failed", "GANTRY_GIT_TOKEN"}},
		{name: "no credentials", ref: "main", want: []string{"authentication failed"}},
		{name: "wrong password", auth: source.Auth{Username: "ci", Password: "nope"}, ref: "main", want: []string{"authentication failed"}},
		{name: "unknown ref", auth: source.Auth{Token: token}, ref: "no-such-branch", want: []string{`"no-such-branch"`, "no branch or tag"}, wantIs: source.ErrRefNotFound},
		{name: "unknown full ref", auth: source.Auth{Token: token}, ref: "refs/heads/gone", want: []string{"refs/heads/gone"}, wantIs: source.ErrRefNotFound},
		{name: "abbreviated sha", auth: source.Auth{Token: token}, ref: f.first[:8], want: []string{"all 40 characters"}, wantIs: source.ErrRefNotFound},
		{name: "unknown sha", auth: source.Auth{Token: token}, ref: strings.Repeat("ab", 20), want: []string{"not on any branch or tag"}},
		{name: "missing repository", auth: source.Auth{Token: token}, repo: f.srv.URL + "/nope.git", ref: "main", want: []string{"repository not found"}},
		{name: "no ref", auth: source.Auth{Token: token}, ref: "", want: []string{"no ref given"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := tc.repo
			if repo == "" {
				repo = f.url
			}
			_, err := newFetcher(t, tc.auth, f.url, f.srv.URL+"/nope.git").Fetch(ctx, repo, tc.ref)
			if err == nil {
				t.Fatal("Fetch succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error leaks the token: %q", err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q is not %v", err, tc.wantIs)
			}
		})
	}
}

func TestFetchBasicAuth(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t)
	c, err := newFetcher(t, source.Auth{Username: "ci", Password: token}, f.url).Fetch(context.Background(), f.url, "v1")
	if err != nil {
		t.Fatalf("Fetch with username and password: %v", err)
	}
	if c.SHA != f.first {
		t.Errorf("Fetch(v1) = %s, want %s", c.SHA, f.first)
	}
}

func TestFetchTokenInURLIsNotLeaked(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t)
	// The server accepts the token as password; GitHub also takes it as user.
	userOnly := strings.Replace(f.url, "http://", "http://"+token+"@", 1)
	if _, err := newFetcher(t, source.Auth{}, f.url).Fetch(context.Background(), userOnly, "nope"); err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("token as URL user: error %v, want one without the token", err)
	}
	withToken := strings.Replace(f.url, "http://", "http://user:"+token+"@", 1)
	c, err := newFetcher(t, source.Auth{}, f.url).Fetch(context.Background(), withToken, "main")
	if err != nil {
		t.Fatalf("Fetch with credentials in URL: %v", err)
	}
	if strings.Contains(c.Repo, token) {
		t.Errorf("Commit.Repo leaks the token: %s", c.Repo)
	}
	_, err = newFetcher(t, source.Auth{}, f.url).Fetch(context.Background(), withToken, "nope")
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("error %v: want an error without the token", err)
	}
}

func TestFetchSSH(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t)
	ssh := gittest.NewSSHServer(t, f.srv.Root)
	ctx := context.Background()
	c, err := newFetcher(t, source.Auth{SSHKeyFile: ssh.KeyFile, KnownHostsFile: ssh.KnownHosts}).Fetch(ctx, ssh.URL("stack"), "v1")
	if err != nil {
		t.Fatalf("Fetch over SSH: %v", err)
	}
	if c.SHA != f.first {
		t.Errorf("Fetch(v1) over SSH = %s, want %s", c.SHA, f.first)
	}

	other := gittest.NewSSHServer(t, f.srv.Root) // a different host key
	_, err = newFetcher(t, source.Auth{SSHKeyFile: ssh.KeyFile, KnownHostsFile: other.KnownHosts}).Fetch(ctx, ssh.URL("stack"), "main")
	if err == nil || !strings.Contains(err.Error(), "host key") {
		t.Errorf("Fetch with a wrong known_hosts: err = %v, want a host key error", err)
	}
}

func TestFetchLocalPathAndFileURL(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t)
	sha := repo.Commit("one", map[string]string{"cm.yaml": configMap("a", "1")})
	for _, url := range []string{repo.Dir, "file://" + repo.Dir} {
		c, err := newFetcher(t, source.Auth{}).Fetch(context.Background(), url, "main")
		if err != nil {
			t.Fatalf("Fetch(%s): %v", url, err)
		}
		if c.SHA != sha {
			t.Errorf("Fetch(%s) = %s, want %s", url, c.SHA, sha)
		}
	}
	_, err := newFetcher(t, source.Auth{}).Fetch(context.Background(), repo.Dir+"-missing", "main")
	if err == nil || !strings.Contains(err.Error(), repo.Dir+"-missing") {
		t.Errorf("missing local repository: err = %v, want one naming the path", err)
	}
}

func TestFetchConcurrentSharedCache(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t)
	fetcher := newFetcher(t, source.Auth{Token: token}, f.url)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			ref := []string{"main", "v1", "feature"}[i%3]
			_, errs[i] = fetcher.Fetch(context.Background(), f.url, ref)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func TestIsAncestor(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t)
	fetcher := newFetcher(t, source.Auth{Token: token}, f.url)
	ctx := context.Background()
	for _, tc := range []struct {
		name                 string
		ancestor, descendant string
		want                 bool
	}{
		{"itself", f.second, f.second, true},
		{"parent", f.first, f.second, true},
		{"child", f.second, f.first, false},
		{"another branch", f.featureCommit, f.second, false},
		{"branch point", f.first, f.featureCommit, true},
	} {
		got, err := fetcher.IsAncestor(ctx, f.url, tc.ancestor, tc.descendant)
		if err != nil || got != tc.want {
			t.Errorf("%s: IsAncestor(%.7s, %.7s) = %v, %v; want %v", tc.name, tc.ancestor, tc.descendant, got, err, tc.want)
		}
	}
	missing := strings.Repeat("ab", 20)
	if _, err := fetcher.IsAncestor(ctx, f.url, missing, f.second); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("IsAncestor of an unknown commit: err = %v, want one naming it", err)
	}
}

// TestFetchCacheIsPrivate: the repository a fetch caches is readable by its
// owner only (go-git writes objects world-readable), also when an older
// gantry left its directory open.
func TestFetchCacheIsPrivate(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t)
	repo.Commit("one", map[string]string{"deploy/cm.yaml": configMap("a", "1")})
	cache := t.TempDir()
	f := source.NewFetcher(source.FetchOptions{CacheDir: cache})
	private := func(when string) {
		t.Helper()
		entries, err := os.ReadDir(cache)
		if err != nil {
			t.Fatal(err)
		}
		dirs := 0
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dirs++
			fi, err := os.Stat(filepath.Join(cache, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: the cached repository %s is %v, want 0700", when, e.Name(), fi.Mode().Perm())
			}
		}
		if dirs != 1 {
			t.Fatalf("%s: %d cached repositories, want 1", when, dirs)
		}
	}
	if _, err := f.Fetch(context.Background(), repo.Dir, "main"); err != nil {
		t.Fatal(err)
	}
	private("after the first fetch")
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if e.IsDir() {
			if err := os.Chmod(filepath.Join(cache, e.Name()), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := f.Fetch(context.Background(), repo.Dir, "main"); err != nil {
		t.Fatal(err)
	}
	private("after a fetch into a cache an older gantry left open")
}

package helmrepo_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/source/helmrepo"
)

// corpus loads a chart of the corpus.
func corpus(t *testing.T, chart string) *chartv2.Chart {
	t.Helper()
	return helmtest.Load(t, filepath.Join("..", "..", "testdata", "corpus", "charts", chart))
}

func client(t *testing.T, cache string, creds func(string) (string, string)) *helmrepo.Client {
	t.Helper()
	c, err := helmrepo.New(helmrepo.Options{CacheDir: cache, Credentials: creds, MaxIndexBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestResolveAndPull: an exact version is resolved from the index and
// pulled once; from then on, from the cache, with no request at all, even
// in a new process (a new Client on the same directory). A range costs one
// conditional GET of the index and picks the highest match; the archive
// pulled is the chart, digest checked.
func TestResolveAndPull(t *testing.T) {
	t.Parallel()
	s := helmtest.New(t, "", "")
	s.Publish(t, corpus(t, "podinfo"), "", "6.14.1", "6.14.2", "6.15.0")
	cache := t.TempDir()
	ctx := context.Background()
	v, err := client(t, cache, nil).Resolve(ctx, s.URL, "podinfo", "6.14.1")
	if err != nil {
		t.Fatal(err)
	}
	data, err := client(t, cache, nil).Pull(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Requests.Load(); n != 2 {
		t.Errorf("first resolve and pull: %d requests, want 2 (the index, the archive)", n)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil || ch.Metadata.Version != "6.14.1" || len(v.Digest) != 64 {
		t.Fatalf("pulled %v (digest %q): %v", ch, v.Digest, err)
	}
	s.Requests.Store(0)
	again, err := client(t, cache, nil).Resolve(ctx, s.URL, "podinfo", "6.14.1")
	if err == nil {
		_, err = client(t, cache, nil).Pull(ctx, again)
	}
	if err != nil || s.Requests.Load() != 0 || again.Digest != v.Digest {
		t.Errorf("a pinned version cached: %d requests, digest %s (was %s), err %v; want 0 requests", s.Requests.Load(), again.Digest, v.Digest, err)
	}
	for constraint, want := range map[string]string{"6.14.x": "6.14.2", "^6": "6.15.0", ">=6.14.1 <6.15.0": "6.14.2"} {
		s.Requests.Store(0)
		r, err := client(t, cache, nil).Resolve(ctx, s.URL, "podinfo", constraint)
		if err != nil || r.Version != want || s.Requests.Load() != 1 {
			t.Errorf("range %q: %v, %d requests, err %v; want %s in one request", constraint, r, s.Requests.Load(), err, want)
		}
	}
}

// TestRepositoryRefuses: a row per thing a repository (or a mistake) may
// send that must be refused with what to do, nothing cached from it.
func TestRepositoryRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := helmtest.New(t, "", "")
	good.Publish(t, corpus(t, "podinfo"), "", "6.14.1")
	tampered := helmtest.New(t, "", "")
	tampered.Publish(t, corpus(t, "podinfo"), "", "6.14.1")
	if err := os.WriteFile(filepath.Join(tampered.Dir, "podinfo-6.14.1.tgz"), []byte("not the chart"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := helmtest.New(t, "", "")
	big.Publish(t, corpus(t, "podinfo"), "", "6.14.1")
	if err := os.WriteFile(filepath.Join(big.Dir, "index.yaml"), bytes.Repeat([]byte("# padding\n"), 200000), 0o644); err != nil {
		t.Fatal(err)
	}
	bomb := helmtest.New(t, "", "")
	if err := os.WriteFile(filepath.Join(bomb.Dir, "index.yaml"), []byte("apiVersion: v1\n"+objtest.Bomb("")), 0o644); err != nil {
		t.Fatal(err)
	}
	flat := helmtest.New(t, "", "")
	if err := os.WriteFile(filepath.Join(flat.Dir, "index.yaml"), []byte("apiVersion: v1\nentries:\n  a: ["+strings.Repeat("{},", 300000)+"{}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	locked := helmtest.New(t, "ci", "s3cret")
	locked.Publish(t, corpus(t, "podinfo"), "", "6.14.1")
	for _, tc := range []struct {
		name, repo, chart, version string
		want                       string
		pull                       bool
	}{
		{"an unknown chart", good.URL, "nginx", "1.0.0", `has no chart "nginx"`, false},
		{"an exact version it lacks: no closest fallback", good.URL, "podinfo", "6.14.0", "has no version 6.14.0 of chart podinfo (it has 6.14.1)", false},
		{"a range nothing matches", good.URL, "podinfo", "^7", `no version of chart podinfo matches "^7"`, false},
		{"an archive that is not the one indexed", tampered.URL, "podinfo", "6.14.1", "the archive was changed or damaged", true},
		{"an index over the limit", big.URL, "podinfo", "6.14.1", "over the limit of 1048576", false},
		{"an index that is a YAML bomb", bomb.URL, "podinfo", "6.14.1", "alias", false},
		{"an index of many tiny entries", flat.URL, "podinfo", "6.14.1", "holds more than 200000 entries", false},
		{"credentials in the URL", strings.Replace(good.URL, "http://", "http://u:p@", 1), "podinfo", "6.14.1", "credentials in the URL are refused", false},
		{"not http", "ftp://charts.example.com", "podinfo", "6.14.1", "use an http:// or https:// URL", false},
		{"no credentials for a private repository", locked.URL, "podinfo", "6.14.1", "401 Unauthorized: give the repository's credentials", false},
	} {
		c := client(t, t.TempDir(), nil)
		v, err := c.Resolve(ctx, tc.repo, tc.chart, tc.version)
		if err == nil && tc.pull {
			_, err = c.Pull(ctx, v)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error holds the password: %v", tc.name, err)
		}
	}
}

// TestCredentialsStayWithTheRepository: credentials reach the repository's
// own host; a chart URL elsewhere is fetched without them.
func TestCredentialsStayWithTheRepository(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	charts := helmtest.New(t, "", "")
	index := helmtest.New(t, "ci", "s3cret")
	charts.Publish(t, corpus(t, "podinfo"), "", "6.14.1")
	index.Publish(t, corpus(t, "podinfo"), charts.URL, "6.14.1")
	creds := func(repoURL string) (string, string) { return "ci", "s3cret" }
	c := client(t, t.TempDir(), creds)
	v, err := c.Resolve(ctx, index.URL, "podinfo", "6.14.1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.URL, charts.URL) {
		t.Fatalf("the chart's URL %s is not on the other server", v.URL)
	}
	if _, err := c.Pull(ctx, v); err != nil {
		t.Fatal(err)
	}
	if got := charts.Authorization(); got != "" || index.Authorization() == "" {
		t.Errorf("Authorization sent to the chart's host %q, to the repository %q; want none and some", got, index.Authorization())
	}
}

// TestCredentialsNotRedirected: a repository that redirects its index to
// another origin (here another port of the same host, as a downgrade to
// http:// or a shared host would) does not get its credentials carried
// there.
func TestCredentialsNotRedirected(t *testing.T) {
	t.Parallel()
	other := helmtest.New(t, "", "")
	other.Publish(t, corpus(t, "podinfo"), "", "6.14.1")
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(redirecting.Close)
	c := client(t, t.TempDir(), func(string) (string, string) { return "ci", "s3cret" })
	if _, err := c.Resolve(context.Background(), redirecting.URL, "podinfo", "6.14.1"); err != nil {
		t.Fatal(err)
	}
	if got := other.Authorization(); got != "" {
		t.Errorf("the redirect carried Authorization %q to another origin", got)
	}
}

// TestFromEnvScopesCredentials: credentials from the environment need the
// repository they are for, and are given to it only.
func TestFromEnvScopesCredentials(t *testing.T) {
	t.Setenv("GANTRY_HELM_USERNAME", "ci")
	t.Setenv("GANTRY_HELM_PASSWORD", "s3cret")
	t.Setenv("GANTRY_HELM_REPOSITORY", "")
	if _, err := helmrepo.FromEnv(t.TempDir()); err == nil || !strings.Contains(err.Error(), "without GANTRY_HELM_REPOSITORY") {
		t.Errorf("credentials without their repository: %v", err)
	}
	t.Setenv("GANTRY_HELM_REPOSITORY", "https://charts.example.com/stable")
	opts, err := helmrepo.FromEnv(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for repoURL, want := range map[string]string{"https://charts.example.com/other/": "ci", "https://kubernetes.github.io/ingress-nginx/": "", "http://charts.example.com/stable/": ""} {
		if user, _ := opts.Credentials(repoURL); user != want {
			t.Errorf("credentials for %s: user %q, want %q", repoURL, user, want)
		}
	}
}

// TestRepublishedVersion: a version republished with another archive after
// the index was cached (its archive not pulled yet) is resolved from the
// repository again, not refused forever against the stale digest.
func TestRepublishedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := helmtest.New(t, "", "")
	ch := corpus(t, "podinfo")
	r.Publish(t, ch, "", "6.14.1")
	cache := t.TempDir()
	if _, err := client(t, cache, nil).Resolve(ctx, r.URL, "podinfo", "6.14.1"); err != nil {
		t.Fatal(err) // the index is cached; the archive is not pulled
	}
	ch.Metadata.Description = "republished"
	r.Publish(t, ch, "", "6.14.1")
	v, err := client(t, cache, nil).Resolve(ctx, r.URL, "podinfo", "6.14.1")
	if err == nil {
		_, err = client(t, cache, nil).Pull(ctx, v)
	}
	if err != nil {
		t.Errorf("the republished version: %v", err)
	}
}

// Package helmrepo fetches charts from Helm HTTP repositories (an
// index.yaml and packaged charts): it resolves a chart's exact version or
// semver range against the repository's index, and pulls the chart's
// archive, verified against the index's digest and kept on disk by digest.
// A pinned version already cached costs no request; a range costs one
// conditional GET of the index. Everything a repository sends is bounded
// (index and archive sizes, the index's YAML) and hostile until checked;
// credentials go to the repository's own host only.
package helmrepo

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gantryops/gantry/internal/atomicfile"

	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// Options configure a Client.
type Options struct {
	// CacheDir holds indexes (by repository) and archives (by digest).
	CacheDir string
	// HTTP sends the requests (nil: a client with a 1-minute timeout).
	HTTP *http.Client
	// Credentials returns the basic-auth user and password for a
	// repository URL ("", "": none). They are sent to the repository's
	// own scheme, host and port only, never to a chart URL elsewhere.
	Credentials func(repoURL string) (user, password string)
	// MaxIndexBytes bounds an index.yaml (0: 32 MiB); MaxChartBytes a
	// chart archive (0: 16 MiB, Helm's own bound on a chart is 100 MiB
	// decompressed).
	MaxIndexBytes, MaxChartBytes int64
}

// Client fetches charts from Helm HTTP repositories.
type Client struct {
	opts Options
}

// New returns a Client.
func New(opts Options) (*Client, error) {
	if opts.CacheDir == "" {
		return nil, errors.New("helm repositories need a cache directory")
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: time.Minute}
	}
	client := *opts.HTTP
	client.CheckRedirect = sameOriginAuth
	opts.HTTP = &client
	if opts.MaxIndexBytes <= 0 {
		opts.MaxIndexBytes = 32 << 20
	}
	if opts.MaxChartBytes <= 0 {
		opts.MaxChartBytes = 16 << 20
	}
	return &Client{opts: opts}, nil
}

// Version is a chart version of a repository's index.
type Version struct {
	Repo, Name, Version string
	// Digest is the archive's SHA-256 (hex), from the index, or computed
	// when the index gives none.
	Digest string
	// URL is where the archive is, resolved against the repository.
	URL string
}

// Resolve returns the version of chart name that constraint names: an
// exact version (which must exist: no "closest" fallback), or a semver
// range (the highest match, pre-releases only when the range names one).
// An exact version found in the cached index costs no request.
func (c *Client) Resolve(ctx context.Context, repoURL, name, constraint string) (*Version, error) {
	if isOCI(repoURL) {
		return c.ociResolve(ctx, repoURL, name, constraint)
	}
	base, err := repositoryURL(repoURL)
	if err != nil {
		return nil, err
	}
	dir := c.repoDir(base.String())
	if exact(constraint) {
		if idx, err := c.cachedIndex(dir); err == nil {
			if v, ok := find(idx, name, constraint); ok {
				// Trusted without a request only with its archive cached: a
				// version republished since (another digest) is seen by
				// asking the repository again before anything is pulled.
				if ver, err := c.version(base, v); err == nil && c.archiveCached(ver.Digest) {
					return ver, nil
				}
			}
		}
	}
	idx, err := c.fetchIndex(ctx, base, dir)
	if err != nil {
		return nil, err
	}
	return c.pick(base, idx, name, constraint)
}

// pick finds constraint's version of name in idx.
func (c *Client) pick(base *url.URL, idx *repo.IndexFile, name, constraint string) (*Version, error) {
	versions, ok := idx.Entries[name]
	if !ok || len(versions) == 0 {
		return nil, fmt.Errorf("%s has no chart %q: check source.chart.name", redacted(base), name)
	}
	if exact(constraint) {
		if v, ok := find(idx, name, constraint); ok {
			return c.version(base, v)
		}
		return nil, fmt.Errorf("%s has no version %s of chart %s (it has %s): check source.chart.version", redacted(base), constraint, name, listed(versions))
	}
	v, err := idx.Get(name, constraint)
	if err != nil {
		return nil, fmt.Errorf("%s: no version of chart %s matches %q (it has %s): %w", redacted(base), name, constraint, listed(versions), err)
	}
	return c.version(base, v)
}

// version makes a Version of an index entry, its URL resolved against the
// repository.
func (c *Client) version(base *url.URL, v *repo.ChartVersion) (*Version, error) {
	if len(v.URLs) == 0 {
		return nil, fmt.Errorf("%s: chart %s %s has no URL in the index", redacted(base), v.Name, v.Version)
	}
	ref, err := url.Parse(v.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("%s: chart %s %s: its URL: %w", redacted(base), v.Name, v.Version, err)
	}
	u := base.ResolveReference(ref)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: chart %s %s is at %q: only http(s) URLs are fetched", redacted(base), v.Name, v.Version, u.Scheme)
	}
	digest := strings.ToLower(strings.TrimPrefix(v.Digest, "sha256:"))
	if digest != "" && !validDigest(digest) {
		return nil, fmt.Errorf("%s: chart %s %s: digest %q is not a SHA-256", redacted(base), v.Name, v.Version, v.Digest)
	}
	return &Version{Repo: redacted(base), Name: v.Name, Version: v.Version, Digest: digest, URL: u.String()}, nil
}

// archiveCached reports whether the archive of digest is in the cache.
func (c *Client) archiveCached(digest string) bool {
	if digest == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(c.opts.CacheDir, "charts", digest+".tgz"))
	return err == nil
}

// Pull returns the archive of v: from the cache by digest, else downloaded
// and checked against the digest, then cached. Without a digest in the
// index it is downloaded each time and v.Digest is set to its SHA-256.
func (c *Client) Pull(ctx context.Context, v *Version) ([]byte, error) {
	path := filepath.Join(c.opts.CacheDir, "charts", v.Digest+".tgz")
	if v.Digest != "" {
		if data, err := os.ReadFile(path); err == nil && sum(data) == v.Digest {
			return data, nil
		}
	}
	var data []byte
	var err error
	if isOCI(v.Repo) {
		data, err = c.ociPull(ctx, v)
	} else {
		data, _, err = c.get(ctx, v.URL, v.Repo, "", c.opts.MaxChartBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", v.Name, v.Version, err)
	}
	got := sum(data)
	if v.Digest == "" {
		v.Digest = got
		return data, nil
	}
	if got != v.Digest {
		return nil, fmt.Errorf("chart %s %s from %s: its SHA-256 is %s, the index says %s: the archive was changed or damaged; refusing it", v.Name, v.Version, v.Repo, got, v.Digest)
	}
	return data, atomicfile.Write(path, data)
}

// exact reports whether constraint names one version (not a range).
func exact(constraint string) bool {
	if constraint == "" || strings.ContainsAny(constraint, "^~<>=!*| ,") {
		return false
	}
	core, _, _ := strings.Cut(strings.SplitN(constraint, "+", 2)[0], "-")
	return !strings.ContainsAny(core, "xX")
}

// find returns the entry of name at exactly version.
func find(idx *repo.IndexFile, name, version string) (*repo.ChartVersion, bool) {
	for _, v := range idx.Entries[name] {
		if v.Version == version || "v"+v.Version == version || v.Version == "v"+version {
			return v, true
		}
	}
	return nil, false
}

// listed names up to ten versions, newest first as the index sorts them.
func listed(vs repo.ChartVersions) string {
	var out []string
	for i, v := range vs {
		if i == 10 {
			out = append(out, fmt.Sprintf("and %d more", len(vs)-10))
			break
		}
		out = append(out, v.Version)
	}
	return strings.Join(out, ", ")
}

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func validDigest(d string) bool {
	if len(d) != 64 {
		return false
	}
	_, err := hex.DecodeString(d)
	return err == nil
}

// FromEnv returns the options of a Client caching in cacheDir, with the
// credentials and CA bundle the environment gives: GANTRY_HELM_USERNAME
// and GANTRY_HELM_PASSWORD (basic auth), sent only to the repository
// GANTRY_HELM_REPOSITORY names (its scheme, host and port: required with
// them, so that a private repository's password never reaches a public
// one); for OCI registries (charts and artifacts) without them, the
// static credentials a Docker config file holds for the registry's host
// ($DOCKER_CONFIG/config.json or ~/.docker/config.json; credential
// helpers are not run); GANTRY_HELM_CA_FILE (PEM certificates trusted beside the system's,
// for repositories with a private CA).
func FromEnv(cacheDir string) (Options, error) {
	opts := Options{CacheDir: cacheDir}
	user, pass := os.Getenv("GANTRY_HELM_USERNAME"), os.Getenv("GANTRY_HELM_PASSWORD")
	origin := os.Getenv("GANTRY_HELM_REPOSITORY")
	if (user != "" || pass != "") && origin == "" {
		return opts, errors.New("GANTRY_HELM_USERNAME/GANTRY_HELM_PASSWORD are set without GANTRY_HELM_REPOSITORY: name the repository (its URL) they are for, so that they reach no other")
	}
	docker, err := readDockerConfig(DockerConfigPath())
	if err != nil {
		return opts, fmt.Errorf("the Docker config file %s: %w", DockerConfigPath(), err)
	}
	if user != "" || pass != "" || len(docker) > 0 {
		opts.Credentials = func(repoURL string) (string, string) {
			if (user != "" || pass != "") && sameOrigin(repoURL, origin) {
				return user, pass
			}
			if a, ok := docker[ociHost(repoURL)]; ok && ociHost(repoURL) != "" {
				return a.Username, a.Password
			}
			return "", ""
		}
	}
	if ca := os.Getenv("GANTRY_HELM_CA_FILE"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return opts, fmt.Errorf("GANTRY_HELM_CA_FILE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return opts, fmt.Errorf("GANTRY_HELM_CA_FILE %s holds no PEM certificate", ca)
		}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.HTTP = &http.Client{Transport: transport, Timeout: time.Minute}
	}
	return opts, nil
}

// sameOriginAuth follows at most 10 redirects, and drops the Authorization
// header on one to another scheme, host or port (Go's client keeps it for
// the same host name, a downgrade to http:// or another port included).
func sameOriginAuth(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !sameOrigin(req.URL.String(), via[0].URL.String()) {
		req.Header.Del("Authorization")
	}
	return nil
}

package helmrepo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantryops/gantry/internal/atomicfile"

	repo "helm.sh/helm/v4/pkg/repo/v1"

	"github.com/gantryops/gantry/internal/flock"
	"github.com/gantryops/gantry/source"
)

// repositoryURL parses a repository URL: http(s), without credentials in
// it (they belong in the environment, not in gantry.yaml or the record).
func repositoryURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/") + "/")
	if err != nil {
		return nil, fmt.Errorf("helm repository %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("helm repository %q: use an http:// or https:// URL (oci:// is an OCI registry)", raw)
	case u.User != nil:
		return nil, fmt.Errorf("helm repository %s: credentials in the URL are refused (they would be recorded and shown); give them in the environment (docs/sources.md)", redacted(u))
	case u.Host == "":
		return nil, fmt.Errorf("helm repository %q: no host", raw)
	}
	return u, nil
}

// redacted is u without credentials, query or fragment.
func redacted(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}

// repoDir is where the cache keeps what it knows of a repository (key:
// its URL).
func (c *Client) repoDir(key string) string {
	s := sha256.Sum256([]byte(key))
	return filepath.Join(c.opts.CacheDir, "repositories", hex.EncodeToString(s[:12]))
}

// cachedIndex loads the index cached in dir.
func (c *Client) cachedIndex(dir string) (*repo.IndexFile, error) {
	return loadIndex(filepath.Join(dir, "index.yaml"))
}

// loadIndex loads an index file that passed the checks.
func loadIndex(path string) (*repo.IndexFile, error) {
	idx, err := repo.LoadIndexFile(path)
	if err != nil {
		return nil, err
	}
	return idx, nil
}

// fetchIndex GETs the repository's index.yaml, conditionally on the one
// cached (If-None-Match: a 304 costs no transfer), checks it (size, YAML
// bounds, the index format) and caches it. Processes sharing the cache
// take a file lock on the repository's directory.
func (c *Client) fetchIndex(ctx context.Context, base *url.URL, dir string) (*repo.IndexFile, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := flock.Lock(dir + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	etag, _ := os.ReadFile(filepath.Join(dir, "etag"))
	indexURL := base.ResolveReference(&url.URL{Path: "index.yaml"})
	data, newTag, err := c.get(ctx, indexURL.String(), redacted(base), string(etag), c.opts.MaxIndexBytes)
	if errors.Is(err, errNotModified) {
		if idx, err := c.cachedIndex(dir); err == nil {
			return idx, nil
		}
		data, newTag, err = c.get(ctx, indexURL.String(), redacted(base), "", c.opts.MaxIndexBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("index of %s: %w", redacted(base), err)
	}
	if err := source.CheckYAML(redacted(base)+"index.yaml", data); err != nil {
		return nil, fmt.Errorf("index of %s: %w", redacted(base), err)
	}
	if n := entries(data); n > maxIndexEntries {
		return nil, fmt.Errorf("index of %s holds more than %d entries (%d mappings and list items): refused before it is parsed, each costing far more in memory than in bytes", redacted(base), maxIndexEntries, n)
	}
	if err := atomicfile.Write(filepath.Join(dir, "index.yaml"), data); err != nil {
		return nil, err
	}
	idx, err := c.cachedIndex(dir)
	if err != nil {
		_ = os.Remove(filepath.Join(dir, "index.yaml"))
		return nil, fmt.Errorf("index of %s is not a Helm repository index: %w", redacted(base), err)
	}
	if err := atomicfile.Write(filepath.Join(dir, "etag"), []byte(newTag)); err != nil {
		return nil, err
	}
	return idx, nil
}

// errNotModified is a 304 answer to a conditional GET.
var errNotModified = errors.New("not modified")

// get GETs rawURL, at most limit bytes, with the repository's credentials
// when rawURL is on the repository's scheme, host and port (repoURL), and
// If-None-Match etag when given; it returns the body and its ETag.
func (c *Client) get(ctx context.Context, rawURL, repoURL, etag string, limit int64) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, "", err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if c.opts.Credentials != nil && sameOrigin(rawURL, repoURL) {
		if user, pass := c.opts.Credentials(repoURL); user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
	}
	resp, err := c.opts.HTTP.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && etag != "":
		return nil, etag, errNotModified
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, "", fmt.Errorf("%s: %s: give the repository's credentials in the environment (docs/sources.md)", redactedString(rawURL), resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("%s: %s", redactedString(rawURL), resp.Status)
	case resp.ContentLength > limit:
		return nil, "", fmt.Errorf("%s: %d bytes, over the limit of %d", redactedString(rawURL), resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", redactedString(rawURL), err)
	}
	if int64(len(data)) > limit {
		return nil, "", fmt.Errorf("%s: more than the limit of %d bytes", redactedString(rawURL), limit)
	}
	return data, resp.Header.Get("ETag"), nil
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && ua.Host == ub.Host
}

func redactedString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL)"
	}
	return redacted(u)
}

// maxIndexEntries bounds the mappings and list items of an index: parsed,
// each is a chart version of about half a kilobyte however few bytes it
// took (a flow "{}" is two), so bytes alone do not bound the memory. The
// largest public indexes hold tens of thousands of versions.
const maxIndexEntries = 200000

// entries counts an index's flow mappings and block list items, an upper
// bound of the chart versions its parse makes.
func entries(data []byte) int {
	n := bytes.Count(data, []byte("{"))
	for line := range bytes.Lines(data) {
		if t := bytes.TrimLeft(line, " \t"); bytes.HasPrefix(t, []byte("- ")) || bytes.Equal(bytes.TrimSpace(t), []byte("-")) {
			n++
		}
	}
	return n
}

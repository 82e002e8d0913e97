package source

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/gantryops/gantry/internal/repourl"
)

// normaliseURL turns a local path into an absolute file:// URL, checks that
// other inputs are URLs go-git can fetch, and moves credentials embedded in an
// http(s) URL into the returned Auth so that the URL used for the cache key,
// logs and errors never carries them.
func normaliseURL(repo string) (string, Auth, error) {
	if repo == "" {
		return "", Auth{}, errors.New("no repository given: pass a path, file://, https:// or ssh:// URL")
	}
	u, err := url.Parse(repo)
	switch repourl.FormOf(repo) {
	case repourl.SCP, repourl.SSH:
		return repo, Auth{}, nil
	case repourl.HTTP, repourl.Git:
		// Credentials leave the URL: they go only where httpCredentials
		// allows, and never into logs or the cache key.
		var a Auth
		if u.User != nil {
			a.Username = u.User.Username()
			a.Password, _ = u.User.Password()
			u.User = nil
		}
		return u.String(), a, nil
	case repourl.Other:
		return "", Auth{}, fmt.Errorf("repository %s: unsupported scheme %q: use a path, file://, https:// or ssh://", redact(repo), u.Scheme)
	}
	path := repo
	if err == nil && u.Scheme == "file" {
		path = u.Path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", Auth{}, fmt.Errorf("repository %s: %w", repo, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", Auth{}, fmt.Errorf("repository %s: %w", repo, err)
	}
	return "file://" + abs, Auth{}, nil
}

// isSCPLike reports whether repo is scp-like user@host:path (SSH).
func isSCPLike(repo string) bool { return repourl.FormOf(repo) == repourl.SCP }

// RedactURL returns repo without credentials, as gantry shows repositories
// everywhere (logs, errors, plans).
func RedactURL(repo string) string { return redact(repo) }

// redact removes credentials from a URL: the password, and for http(s) and
// git also the user name, which may itself be a token
// (https://TOKEN@github.com/...).
func redact(repo string) string { return repourl.Redact(repo) }

// Package repourl reads a Git repository reference the one way gantry reads
// it everywhere: gantry.yaml (is it a path, relative to the file?), the
// fetcher (which transport, which credentials?) and the webhook (is this
// push for that stack's repository?).
package repourl

import (
	"net/url"
	"regexp"
	"strings"
)

// Form is how a reference names a repository.
type Form int

// Forms.
const (
	// Local: a path on this machine, absolute or relative.
	Local Form = iota
	// File: a file:// URL.
	File
	// HTTP: an http:// or https:// URL.
	HTTP
	// SSH: an ssh:// URL.
	SSH
	// Git: a git:// URL (no authentication, no encryption).
	Git
	// SCP: scp-like user@host:path, as git reads it (SSH).
	SCP
	// Other: a URL of a scheme gantry does not fetch.
	Other
)

// scpLike is user@host:path with a plain user and host name and a path not
// starting with a slash, as git takes for SSH.
var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]`)

// FormOf says how raw names a repository.
func FormOf(raw string) Form {
	if scpLike.MatchString(raw) && !strings.Contains(raw, "://") {
		return SCP
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return Local
	}
	switch u.Scheme {
	case "file":
		return File
	case "http", "https":
		return HTTP
	case "ssh":
		return SSH
	case "git":
		return Git
	}
	return Other
}

// Key is raw reduced to host and path, lowercased, without a trailing
// ".git" or a default port, for telling whether two references name the
// same repository: https://github.com/Acme/App.git, ssh://git@github.com/acme/app
// and git@github.com:acme/app.git all have the key github.com/acme/app. A
// path's key is the path, lowercased.
func Key(raw string) string {
	s := strings.TrimSpace(raw)
	switch FormOf(s) {
	case SCP:
		s = strings.Replace(s[strings.Index(s, "@")+1:], ":", "/", 1)
	case Local:
	default:
		if u, err := url.Parse(s); err == nil {
			host := u.Host
			if port := u.Port(); port == "22" || port == "80" || port == "443" {
				host = u.Hostname() // default ports: the same server
			}
			s = host + u.Path
		}
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	return strings.ToLower(s)
}

// Redact removes credentials from a URL: the password, and for http(s)
// and git also the user name, which may itself be a token
// (https://TOKEN@github.com/...).
func Redact(repo string) string {
	u, err := url.Parse(repo)
	if err != nil || u.User == nil {
		return repo
	}
	if u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "git" {
		u.User = nil
	} else if _, has := u.User.Password(); has {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

package notify

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/gantryops/gantry/stack"
)

// maxSecretBytes bounds a secret read from a file.
const maxSecretBytes = 64 << 10

// Env reads the environment and files, for FromConfig (os.Getenv and a
// bounded os.ReadFile; tests give their own).
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
}

// FromConfig builds the providers and routes of gantry.yaml's
// notifications, reading each provider's URL and secret from the
// environment or a file (relative to dir, gantry.yaml's directory). A
// secret that is missing or empty is an error naming the field and where
// it was looked for, never its value.
func FromConfig(n *stack.Notifications, dir string, env Env) ([]Provider, []Route, error) {
	if n == nil {
		return nil, nil, nil
	}
	var providers []Provider
	for i, p := range n.Providers {
		field := fmt.Sprintf("notifications.providers[%d]", i)
		if p.Type == "github" || p.Type == "gitlab" {
			s, err := forgeStatus(p, dir, env, n.PublicURL)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", field, err)
			}
			providers = append(providers, s)
			continue
		}
		rawURL, err := resolve(p.URL, dir, env)
		if err != nil {
			return nil, nil, fmt.Errorf("%s.url: %w", field, err)
		}
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, nil, fmt.Errorf("%s.url: what %s holds is not an http(s) URL", field, where(p.URL))
		}
		var secret string
		if !p.Secret.IsZero() {
			if secret, err = resolve(p.Secret, dir, env); err != nil {
				return nil, nil, fmt.Errorf("%s.secret: %w", field, err)
			}
		}
		switch p.Type {
		case "webhook":
			providers = append(providers, &Webhook{ProviderName: p.Name, URL: rawURL, Secret: []byte(secret), PublicURL: n.PublicURL,
				Client: NewClient()})
		case "slack", "teams":
			providers = append(providers, &Chat{ProviderName: p.Name, Kind: p.Type, URL: rawURL, PublicURL: n.PublicURL,
				Client: NewClient()})
		default:
			return nil, nil, fmt.Errorf("%s.type: %q is not a provider type gantry sends to", field, p.Type)
		}
	}
	routes := make([]Route, len(n.Routes))
	for i, r := range n.Routes {
		routes[i] = Route{Stacks: r.Stacks, Kinds: r.Kinds, Providers: r.Providers}
	}
	return providers, routes, nil
}

// forgeStatus is a github or gitlab provider: its API (the public one by
// default), the Git host it sets statuses for (the API's host, GitHub's
// api. aside), its token.
func forgeStatus(p stack.NotificationProvider, dir string, env Env, public string) (*Status, error) {
	api := p.APIURL
	if api == "" {
		api = map[string]string{"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}[p.Type]
	}
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("apiURL %q is not an http(s) URL", api)
	}
	token, err := resolve(p.Secret, dir, env)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	host := u.Hostname()
	if host == "api.github.com" {
		host = "github.com"
	}
	return &Status{ProviderName: p.Name, Kind: p.Type, API: api, Host: host, Token: token, PublicURL: public, Client: NewClient()}, nil
}

// resolve reads a secret reference.
func resolve(r stack.SecretRef, dir string, env Env) (string, error) {
	var v string
	if r.Env != "" {
		v = env.Getenv(r.Env)
	} else {
		f := r.File
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		data, err := env.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("%s: %w", where(r), err)
		}
		if len(data) > maxSecretBytes {
			return "", fmt.Errorf("%s is over %d bytes", where(r), maxSecretBytes)
		}
		v = string(data)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("%s is empty: set it", where(r))
	}
	return v, nil
}

func where(r stack.SecretRef) string {
	if r.Env != "" {
		return "environment variable " + r.Env
	}
	return "file " + r.File
}

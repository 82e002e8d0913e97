package stack

import (
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gantryops/gantry/event"
)

// Notifications is gantry.yaml's notifications: the providers events go
// to, and the routes that say which events go where (docs/notifications.md).
type Notifications struct {
	// PublicURL is gantry run's address as people reach it, for links in
	// messages ("": no links).
	PublicURL string
	Providers []NotificationProvider
	Routes    []NotificationRoute
}

// NotificationProvider is a receiver of notifications.
type NotificationProvider struct {
	// Name is what routes call it.
	Name string
	// Type is webhook, slack or teams (incoming webhooks); more to come
	// (docs/notifications.md).
	Type string
	// URL and Secret are read from the environment or a file, never
	// written in gantry.yaml: a webhook's URL and HMAC key, a chat's URL,
	// a forge's token (Secret).
	URL, Secret SecretRef
	// APIURL is a forge's API (github: https://api.github.com, gitlab:
	// https://gitlab.com/api/v4, unless an enterprise server's).
	APIURL string
}

// SecretRef names where a secret is read: an environment variable, or a
// file (relative to gantry.yaml's directory).
type SecretRef struct {
	Env, File string
}

// IsZero reports whether r names nothing.
func (r SecretRef) IsZero() bool { return r.Env == "" && r.File == "" }

// NotificationRoute sends the events of Stacks (shell patterns; none: all)
// whose kinds match Kinds (patterns such as apply.*; none: all) to
// Providers.
type NotificationRoute struct {
	Stacks, Kinds, Providers []string
}

// NotificationTypes are the provider types gantry can send to.
var NotificationTypes = []string{"webhook", "slack", "teams", "github", "gitlab"}

// forge reports whether a provider type sets commit statuses.
func forge(t string) bool { return t == "github" || t == "gitlab" }

// notifications reads notifications.
func (p *parser) notifications(n *yaml.Node, path string) *Notifications {
	out := &Notifications{}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"publicURL": func(n *yaml.Node, path string) { out.PublicURL = p.str(n, path) },
		"providers": func(n *yaml.Node, path string) {
			p.sequence(n, path, func(item *yaml.Node, path string) {
				out.Providers = append(out.Providers, p.notificationProvider(item, path))
			})
		},
		"routes": func(n *yaml.Node, path string) {
			p.sequence(n, path, func(item *yaml.Node, path string) {
				out.Routes = append(out.Routes, p.notificationRoute(item, path, out.Providers))
			})
		},
	})
	seen := map[string]bool{}
	for _, pr := range out.Providers {
		if seen[pr.Name] && pr.Name != "" {
			p.fail(n, join(path, "providers"), "%q is the name of two providers: names must be unique", pr.Name)
		}
		seen[pr.Name] = true
	}
	return out
}

func (p *parser) notificationProvider(n *yaml.Node, path string) NotificationProvider {
	var pr NotificationProvider
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"name": func(n *yaml.Node, path string) {
			pr.Name = p.str(n, path)
			if msg := nameProblem(pr.Name); msg != "" {
				p.fail(n, path, "%s", msg)
			}
		},
		"type": func(n *yaml.Node, path string) {
			pr.Type = p.str(n, path)
			if !slices.Contains(NotificationTypes, pr.Type) {
				p.fail(n, path, "%q is not a provider type gantry sends to: use %s", pr.Type, strings.Join(NotificationTypes, ", "))
			}
		},
		"url":    func(n *yaml.Node, path string) { pr.URL = p.secretRef(n, path) },
		"apiURL": func(n *yaml.Node, path string) { pr.APIURL = p.str(n, path) },
		"secret": func(n *yaml.Node, path string) { pr.Secret = p.secretRef(n, path) },
	})
	if n.Kind == yaml.MappingNode {
		if pr.Name == "" {
			p.fail(n, join(path, "name"), "missing: routes name providers by it")
		}
		if pr.Type == "" {
			p.fail(n, join(path, "type"), "missing: one of %s", strings.Join(NotificationTypes, ", "))
		}
		switch {
		case forge(pr.Type):
			if pr.Secret.IsZero() {
				p.fail(n, join(path, "secret"), "missing: {env: VARIABLE} or {file: PATH} holding the %s token that may set commit statuses", pr.Type)
			}
			if !pr.URL.IsZero() {
				p.fail(n, join(path, "url"), "a %s provider takes apiURL (its API, when not the public one), not url", pr.Type)
			}
		case pr.URL.IsZero():
			p.fail(n, join(path, "url"), "missing: {env: VARIABLE} or {file: PATH} holding the receiver's URL")
		case !pr.Secret.IsZero() && pr.Type != "webhook" && pr.Type != "":
			p.fail(n, join(path, "secret"), "a %s incoming webhook's URL is its secret: give url only", pr.Type)
		}
		if pr.APIURL != "" && !forge(pr.Type) {
			p.fail(n, join(path, "apiURL"), "applies to github and gitlab providers")
		}
	}
	return pr
}

// secretRef reads {env: NAME} or {file: PATH}: a secret written inline is
// refused, so that none is ever committed with gantry.yaml.
func (p *parser) secretRef(n *yaml.Node, path string) SecretRef {
	var r SecretRef
	if n.Kind == yaml.ScalarNode {
		p.fail(n, path, "written inline: give {env: VARIABLE} or {file: PATH}, so that no secret is committed with gantry.yaml")
		return r
	}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"env":  func(n *yaml.Node, path string) { r.Env = p.str(n, path) },
		"file": func(n *yaml.Node, path string) { r.File = p.str(n, path) },
	})
	if n.Kind == yaml.MappingNode && (r.Env == "") == (r.File == "") {
		p.fail(n, path, "give one of env and file")
	}
	return r
}

func (p *parser) notificationRoute(n *yaml.Node, path string, providers []NotificationProvider) NotificationRoute {
	var r NotificationRoute
	patterns := func(into *[]string, check func(string) string) func(*yaml.Node, string) {
		return func(n *yaml.Node, path string) {
			p.sequence(n, path, func(item *yaml.Node, path string) {
				s := p.str(item, path)
				if msg := check(s); msg != "" {
					p.fail(item, path, "%s", msg)
				}
				*into = append(*into, s)
			})
		}
	}
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"stacks": patterns(&r.Stacks, patternProblem),
		"kinds":  patterns(&r.Kinds, kindPatternProblem),
		"providers": patterns(&r.Providers, func(name string) string {
			if !slices.ContainsFunc(providers, func(pr NotificationProvider) bool { return pr.Name == name }) {
				return "no provider is named " + name + " (providers come before routes)"
			}
			return ""
		}),
	})
	if n.Kind == yaml.MappingNode && len(r.Providers) == 0 {
		p.fail(n, join(path, "providers"), "missing: name the providers the route's events go to")
	}
	return r
}

// patternProblem says what is wrong with a shell pattern.
func patternProblem(s string) string {
	if _, err := path.Match(s, ""); err != nil {
		return "not a pattern: " + err.Error()
	}
	return ""
}

// kindPatternProblem refuses a pattern no event kind matches (a typo
// would route nothing, silently).
func kindPatternProblem(s string) string {
	if msg := patternProblem(s); msg != "" {
		return msg
	}
	for k := range event.Kinds {
		if ok, _ := path.Match(s, string(k)); ok {
			return ""
		}
	}
	return "matches no event kind (docs/events.md lists them: plan.pending, apply.failed, …)"
}

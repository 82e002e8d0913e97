package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/state"
)

// Status sets commit statuses on GitHub or GitLab (Kind "github",
// "gitlab"): on the commit of the event's plan, context gantry/STACK,
// pending while a plan waits for approval or applies, success or failure
// after the apply. Events of other kinds, plans of other sources (charts,
// artifacts) and repositories of other hosts have no status: they are
// delivered by doing nothing.
type Status struct {
	ProviderName string
	Kind         string
	// API is the API's base URL (https://api.github.com,
	// https://gitlab.com/api/v4, or an enterprise server's).
	API string
	// Host is the Git host whose repositories it sets statuses on
	// (github.com, gitlab.com).
	Host      string
	Token     string
	PublicURL string
	Client    *http.Client
}

// Name is the provider's name in gantry.yaml.
func (s *Status) Name() string { return s.ProviderName }

// statusStates maps an event to a commit state: GitHub's, then GitLab's.
var statusStates = map[event.Kind][2]string{
	event.PlanPending:      {"pending", "pending"},
	event.ApplyStarted:     {"pending", "running"},
	event.ApplySucceeded:   {"success", "success"},
	event.ApplyFailed:      {"failure", "failed"},
	event.ApplyInterrupted: {"error", "failed"},
	event.ApplyRefused:     {"failure", "failed"},
	event.PlanRejected:     {"failure", "canceled"},
}

// StatusRequest is the path and body of the POST a status provider makes
// for a delivery, a nil body when the delivery has no status (a pure
// function of d).
func (s *Status) StatusRequest(d state.Delivery) (path string, body []byte) {
	states, ok := statusStates[d.Event.Kind]
	if !ok || d.Plan.SourceKind != "" || len(d.Plan.Commit) != 40 {
		return "", nil
	}
	project, ok := repoPath(d.Plan.Repo, s.Host)
	if !ok || !hexSHA.MatchString(d.Plan.Commit) || (s.Kind != "gitlab" && !githubRepo.MatchString(project)) {
		return "", nil
	}
	desc := cut(Summary(d.Event, d.Plan), 140)
	target := link(s.PublicURL, d.Event)
	name := "gantry/" + d.Event.Stack
	if s.Kind == "gitlab" {
		b, _ := json.Marshal(map[string]string{"state": states[1], "name": name, "description": desc, "target_url": target})
		return "/projects/" + url.PathEscape(project) + "/statuses/" + d.Plan.Commit, b
	}
	b, _ := json.Marshal(map[string]string{"state": states[0], "context": name, "description": desc, "target_url": target})
	return "/repos/" + project + "/statuses/" + d.Plan.Commit, b
}

// A commit's SHA, and GitHub's OWNER/REPO: nothing else reaches the API's
// path (an owner or repository holding "?", "#", "%" or ".." would aim
// the token at another endpoint). GitLab's path is escaped whole.
var (
	hexSHA     = regexp.MustCompile(`^[0-9a-f]{40}$`)
	githubRepo = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
)

// repoPath is the OWNER/REPO (GitLab: the project's full path) of a Git
// URL of host: https://HOST/OWNER/REPO(.git), ssh://git@HOST/…, or
// git@HOST:…; false for another host or form.
func repoPath(repo, host string) (string, bool) {
	var h, p string
	if u, err := url.Parse(repo); err == nil && u.Host != "" {
		h, p = u.Hostname(), u.Path
	} else if at := strings.Index(repo, "@"); at >= 0 && strings.Contains(repo[at:], ":") {
		rest := repo[at+1:]
		h, p, _ = strings.Cut(rest, ":")
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	if !strings.EqualFold(h, host) || strings.Count(p, "/") < 1 || strings.Contains(p, "..") || strings.ContainsAny(p, "?#%\\") {
		return "", false
	}
	return p, true
}

// Send makes one attempt of d (none for a delivery without a status).
func (s *Status) Send(ctx context.Context, d state.Delivery) Attempt {
	path, body := s.StatusRequest(d)
	if body == nil {
		return Attempt{Status: http.StatusNoContent} // nothing to set: delivered
	}
	h := http.Header{"Authorization": {"Bearer " + s.Token}, "Accept": {"application/vnd.github+json"}}
	if s.Kind == "gitlab" {
		h = http.Header{"Private-Token": {s.Token}}
	}
	return post(ctx, s.Client, strings.TrimSuffix(s.API, "/")+path, body, h)
}

package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/state"
)

// sentBy reports whether Decide would count a as sent.
func sentBy(a Attempt) bool { return DefaultRetry.Decide(0, a, time.Now()).Sent }

func TestStatusRequest(t *testing.T) {
	sha := "7b7adc7dfca1384fad0965b00e92c77ef9515097"
	d := func(kind event.Kind, repo, sourceKind string) state.Delivery {
		return state.Delivery{Event: state.AuditEvent{Stack: "shop", Kind: kind, PlanID: "0c3e9a1b-1111"},
			Plan: state.PlanContext{Repo: repo, Commit: sha, SourceKind: sourceKind}}
	}
	gh := &Status{Kind: "github", Host: "github.com", PublicURL: "https://gantry.example.com"}
	gl := &Status{Kind: "gitlab", Host: "gitlab.com"}
	rows := []struct {
		name  string
		s     *Status
		d     state.Delivery
		path  string // "" when no status
		state string
	}{
		{"github pending", gh, d(event.PlanPending, "https://github.com/acme/shop.git", ""), "/repos/acme/shop/statuses/" + sha, "pending"},
		{"github success, ssh URL", gh, d(event.ApplySucceeded, "ssh://git@github.com/acme/shop.git", ""), "/repos/acme/shop/statuses/" + sha, "success"},
		{"github failure, scp-like URL", gh, d(event.ApplyFailed, "git@github.com:acme/shop.git", ""), "/repos/acme/shop/statuses/" + sha, "failure"},
		{"github, another host", gh, d(event.ApplySucceeded, "https://gitlab.com/acme/shop.git", ""), "", ""},
		{"github, a chart's plan", gh, d(event.ApplySucceeded, "https://github.com/acme/shop.git", "helm-repository"), "", ""},
		{"github, a kind without a status", gh, d(event.ObjectPruned, "https://github.com/acme/shop.git", ""), "", ""},
		{"gitlab running, nested group", gl, d(event.ApplyStarted, "https://gitlab.com/acme/platform/shop.git", ""), "/projects/acme%2Fplatform%2Fshop/statuses/" + sha, "running"},
		{"gitlab rejected", gl, d(event.PlanRejected, "https://gitlab.com/acme/shop", ""), "/projects/acme%2Fshop/statuses/" + sha, "canceled"},
		{"github, a query in the path", gh, d(event.ApplySucceeded, "https://github.com/victim/repo/forks%3F", ""), "", ""},
		{"github, escaped dots", gh, d(event.ApplySucceeded, "git@github.com:o/r/%2e%2e/%2e%2e/user/repos#", ""), "", ""},
		{"github, three parts", gh, d(event.ApplySucceeded, "https://github.com/a/b/c", ""), "", ""},
		{"github, credentials in the URL", gh, d(event.ApplySucceeded, "https://x-access-token:s3cret@github.com/acme/shop.git", ""), "/repos/acme/shop/statuses/" + sha, "success"},
	}
	for _, row := range rows {
		path, body := row.s.StatusRequest(row.d)
		if path != row.path {
			t.Errorf("%s: path %q, want %q", row.name, path, row.path)
			continue
		}
		if row.path == "" {
			continue
		}
		var b map[string]string
		if err := json.Unmarshal(body, &b); err != nil || b["state"] != row.state || len(b["description"]) > 140*4 {
			t.Errorf("%s: body %s", row.name, body)
		}
		if name := b["context"] + b["name"]; name != "gantry/shop" {
			t.Errorf("%s: context %q", row.name, name)
		}
	}
}

// TestStatusSend sets statuses on GitHub's and GitLab's APIs as their
// docs give them (stand-ins on loopback: the SaaS APIs cannot be reached
// here): the token in the header each reads, 201 Created.
func TestStatusSend(t *testing.T) {
	sha := "7b7adc7dfca1384fad0965b00e92c77ef9515097"
	var got []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/repos/acme/shop/statuses/"+sha && r.Header.Get("Authorization") == "Bearer gh-token":
		case r.URL.EscapedPath() == "/api/v4/projects/acme%2Fshop/statuses/"+sha && r.Header.Get("PRIVATE-TOKEN") == "gl-token":
		default:
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		got = append(got, r.URL.Path+" "+string(body))
		w.WriteHeader(http.StatusCreated)
	}))
	defer api.Close()
	d := func(repo string) state.Delivery {
		return state.Delivery{Event: state.AuditEvent{Stack: "shop", Kind: event.ApplySucceeded}, Plan: state.PlanContext{Repo: repo, Commit: sha}}
	}
	gh := &Status{Kind: "github", Host: "github.com", API: api.URL, Token: "gh-token"}
	gl := &Status{Kind: "gitlab", Host: "gitlab.com", API: api.URL + "/api/v4", Token: "gl-token"}
	for _, c := range []struct {
		s    *Status
		repo string
	}{{gh, "https://github.com/acme/shop.git"}, {gl, "https://gitlab.com/acme/shop.git"}} {
		if a := c.s.Send(context.Background(), d(c.repo)); a.Err != nil || a.Status != http.StatusCreated {
			t.Errorf("%s: %+v", c.s.Kind, a)
		}
	}
	if len(got) != 2 || !strings.Contains(got[0], `"state":"success"`) || !strings.Contains(got[1], `"name":"gantry/shop"`) {
		t.Errorf("the APIs got %q", got)
	}
	if a := gh.Send(context.Background(), d("https://example.com/acme/shop.git")); a.Status != http.StatusNoContent || len(got) != 2 {
		t.Errorf("a repository of another host: %+v, %d requests", a, len(got))
	}
	// A redirect is not followed: the token stays home, and a 3xx is a
	// failed attempt, not a delivery.
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("PRIVATE-TOKEN") != "" || r.Header.Get("Authorization") != "")
	}))
	defer elsewhere.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/steal?secret-path", http.StatusFound)
	}))
	defer redirect.Close()
	gl.API, gl.Client = redirect.URL, NewClient()
	a := gl.Send(context.Background(), d("https://gitlab.com/acme/shop.git"))
	if leaked.Load() || a.Status != http.StatusFound || sentBy(a) {
		t.Errorf("a redirect: %+v, token sent elsewhere %v", a, leaked.Load())
	}
}

package harness

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/server"
)

// ConfigMapDoc is a YAML document of ConfigMap name holding v under key "v".
func ConfigMapDoc(name, v string) string {
	return fmt.Sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {v: %q}\n", name, v)
}

// ConfigMaps is a repository's deploy/cms.yaml holding a ConfigMap per
// name, value pair (ConfigMapDoc).
func ConfigMaps(kv ...string) map[string]string {
	var doc strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		doc.WriteString(ConfigMapDoc(kv[i], kv[i+1]))
	}
	return map[string]string{"deploy/cms.yaml": doc.String()}
}

// ServedRepo is a Git repository served over smart HTTP by the real git
// http-backend on loopback, as a stack's source.
type ServedRepo struct {
	*gittest.Repo
	Server *gittest.HTTPServer
	// URL is what stacks fetch.
	URL string
}

// NewServedRepo commits files as the first commit and serves the repository.
func NewServedRepo(t testing.TB, files map[string]string) *ServedRepo {
	t.Helper()
	repo := gittest.NewRepo(t)
	repo.Commit("first", files)
	root := t.TempDir()
	repo.Bare(root, "app")
	srv := gittest.NewHTTPServer(t, root, "")
	return &ServedRepo{Repo: repo, Server: srv, URL: srv.URL + "/app.git"}
}

// Push commits files and pushes them to the server.
func (r *ServedRepo) Push(msg string, files map[string]string) string {
	sha := r.Commit(msg, files)
	r.PushTo("app")
	return sha
}

// Credentials of the HTTP server StartRunner serves.
const (
	APIToken      = "api-token-for-tests"
	WebhookSecret = "webhook-secret-for-tests"
)

// RunningEngine is an runner.Runner with its HTTP server, its reconciles
// delivered on a channel.
type RunningEngine struct {
	Runner *runner.Runner
	Server *httptest.Server
	t      testing.TB
	// Results receives every reconcile; Errors their errors (nil or not).
	results chan Reconciled
}

// Reconciled is one reconcile of a running engine.
type Reconciled struct {
	*engine.ReconcileResult
	Err error
}

// StartRunner runs the stacks of opts (Cluster defaults to s.Kube, Apply to
// ApplyOptions) on s's engine until the test ends, serving its HTTP handler
// with APIToken and WebhookSecret on loopback.
func StartRunner(t testing.TB, s *Stack, opts runner.Options) *RunningEngine {
	t.Helper()
	e := &RunningEngine{t: t, results: make(chan Reconciled, 1000)}
	if opts.Cluster == nil {
		opts.Cluster = s.Kube
	}
	if len(opts.Stacks) == 0 {
		opts.Stacks = append(opts.Stacks, s.Def)
	}
	if opts.Apply.PollInterval == 0 {
		opts.Apply = ApplyOptions()
	}
	opts.OnReconcile = func(res *engine.ReconcileResult, err error) { e.results <- Reconciled{res, err} }
	if opts.Logger == nil {
		opts.Logger = s.Engine.Logger()
	}
	e.Runner = runner.New(s.Engine, opts)
	e.Server = httptest.NewServer(server.Handler(e.Runner, s.Engine, server.Options{Token: APIToken, WebhookSecret: WebhookSecret, MaxWebhookBytes: 64 << 10}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.Runner.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		e.Server.Close()
	})
	return e
}

// Next waits for the next reconcile and fails the test if it failed.
func (e *RunningEngine) Next() *engine.ReconcileResult {
	e.t.Helper()
	r := e.NextResult()
	if r.Err != nil {
		e.t.Fatalf("reconcile %s failed in %s: %v", r.Stack, r.Phase, r.Err)
	}
	return r.ReconcileResult
}

// NextResult waits for the next reconcile, failed or not.
func (e *RunningEngine) NextResult() Reconciled {
	e.t.Helper()
	select {
	case r := <-e.results:
		return r
	case <-time.After(60 * time.Second):
		e.t.Fatal("no reconcile within 60s")
		return Reconciled{}
	}
}

// Quiet asserts that no reconcile happens for half a second.
func (e *RunningEngine) Quiet(why string) {
	e.t.Helper()
	select {
	case r := <-e.results:
		e.t.Errorf("%s: a reconcile happened (%s)", why, r.Outcome)
	case <-time.After(500 * time.Millisecond):
	}
}

// Do sends a request to the engine's HTTP server (with a bearer token, if
// given) and returns the status code and body.
func (e *RunningEngine) Do(method, path, token string, body []byte, header map[string]string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.Server.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// Webhook posts a GitHub push event of main for repoURL, signed with
// secret, padded with pad bytes.
func (e *RunningEngine) Webhook(repoURL, secret string, pad int) (int, string) {
	e.t.Helper()
	payload := map[string]any{
		"ref": "refs/heads/main", "after": strings.Repeat("a", 40),
		"repository": map[string]any{"full_name": "acme/app", "clone_url": repoURL, "html_url": "https://example.invalid/acme/app"},
		"padding":    strings.Repeat("x", pad),
	}
	body, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return e.Do("POST", "/hooks/github", "", body, map[string]string{
		"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)), "Content-Type": "application/json"})
}

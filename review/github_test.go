package review_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/githubtest"
	"github.com/gantryops/gantry/review"
)

func newGitHub(t *testing.T, srv *githubtest.Server, opts review.GitHubOptions) *review.GitHub {
	t.Helper()
	opts.APIURL = srv.URL
	g, err := review.NewGitHub(context.Background(), srv.Owner+"/"+srv.Repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func body(stack, text string) string {
	return "<!-- " + review.Marker(stack) + " -->\n" + text
}

// TestUpsertKeepsOneComment: the first review creates the comment, later
// ones edit it in place, found behind two pages of other comments; each
// stack has its own; an unchanged body is not sent again.
func TestUpsertKeepsOneComment(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "deploy", "tok")
	srv.AddPR(githubtest.PR{Number: 7, HeadSHA: strings.Repeat("a", 40)})
	for i := range 150 {
		srv.AddComment(7, fmt.Sprintf("LGTM %d", i))
	}
	g := newGitHub(t, srv, review.GitHubOptions{Token: "tok"})
	ctx := context.Background()
	marker := review.Marker("shop")

	first, err := g.Upsert(ctx, 7, marker, body("shop", "Plan: 1 to add"))
	if err != nil || !first.Created {
		t.Fatalf("first review = %+v, %v; want a new comment", first, err)
	}
	srv.Requests()
	second, err := g.Upsert(ctx, 7, marker, body("shop", "Plan: 2 to add"))
	if err != nil || second.Created || second.ID != first.ID {
		t.Fatalf("second review = %+v, %v; want comment %d edited", second, err, first.ID)
	}
	// The comment is the 151st: finding it reads two pages of 100.
	reqs := srv.Requests()
	if pages := countPrefix(reqs, "GET /repos/acme/deploy/issues/7/comments"); pages != 2 {
		t.Errorf("%d list requests for the second review, want 2 pages: %v", pages, reqs)
	}
	same, err := g.Upsert(ctx, 7, marker, body("shop", "Plan: 2 to add"))
	if err != nil || !same.Unchanged || countPrefix(srv.Requests(), "PATCH") != 0 {
		t.Errorf("an unchanged plan was sent again: %+v, %v", same, err)
	}
	other, err := g.Upsert(ctx, 7, review.Marker("infra"), body("infra", "No changes"))
	if err != nil || !other.Created {
		t.Fatalf("another stack's review = %+v, %v; want its own comment", other, err)
	}
	comments := srv.Comments(7)
	if len(comments) != 152 || comments[150].Body != body("shop", "Plan: 2 to add") {
		t.Errorf("%d comments, the plan's is %q", len(comments), comments[150].Body)
	}
}

func countPrefix(reqs []string, prefix string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func TestUpsertRefusesWhatGitHubWould(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "deploy", "tok")
	srv.AddPR(githubtest.PR{Number: 1, HeadSHA: strings.Repeat("b", 40)})
	g := newGitHub(t, srv, review.GitHubOptions{Token: "tok"})
	if _, err := g.Upsert(context.Background(), 1, review.Marker("shop"), body("shop", strings.Repeat("x", 70000))); err == nil || !strings.Contains(err.Error(), "over GitHub's limit") {
		t.Errorf("a 70,000-character comment: %v", err)
	}
	if _, err := g.Upsert(context.Background(), 1, review.Marker("shop"), "no marker"); err == nil {
		t.Error("a comment without its marker was sent")
	}
	if _, err := review.NewGitHub(context.Background(), "acme/deploy", review.GitHubOptions{APIURL: srv.URL, Token: "wrong"}); err == nil || !strings.Contains(err.Error(), "401 Bad credentials") {
		t.Errorf("wrong token: %v", err)
	}
	if _, err := review.NewGitHub(context.Background(), "acme", review.GitHubOptions{Token: "tok"}); err == nil || !strings.Contains(err.Error(), "OWNER/NAME") {
		t.Errorf("bad --repo: %v", err)
	}
	if _, err := review.NewGitHub(context.Background(), "acme/deploy", review.GitHubOptions{APIURL: srv.URL}); err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
		t.Errorf("no credentials: %v", err)
	}
}

func TestPullRequest(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "deploy", "tok")
	srv.AddPR(githubtest.PR{Number: 3, HeadSHA: strings.Repeat("c", 40), HeadRef: "feature", HeadRepo: "fork/deploy", HeadCloneURL: "https://github.invalid/fork/deploy.git", BaseRef: "main"})
	srv.AddPR(githubtest.PR{Number: 4, HeadSHA: strings.Repeat("d", 40), HeadRef: "fix", HeadRepo: "acme/deploy", HeadCloneURL: "https://github.invalid/acme/deploy.git", BaseRef: "main"})
	g := newGitHub(t, srv, review.GitHubOptions{Token: "tok"})
	fork, err := g.PullRequest(context.Background(), 3)
	if err != nil || fork.SameRepo || fork.HeadRepo != "https://github.invalid/fork/deploy.git" || fork.HeadSHA != strings.Repeat("c", 40) || fork.BaseRef != "main" {
		t.Errorf("fork PR = %+v, %v", fork, err)
	}
	own, err := g.PullRequest(context.Background(), 4)
	if err != nil || !own.SameRepo || own.HeadRef != "fix" {
		t.Errorf("same-repository PR = %+v, %v", own, err)
	}
	if _, err := g.PullRequest(context.Background(), 99); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown PR: %v", err)
	}
}

// TestAppAuth: as a GitHub App, gantry signs a JWT with the App's key,
// exchanges it for an installation token, and uses that.
func TestAppAuth(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	parsed, err := review.ParseAppKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := githubtest.NewServer(t, "acme", "deploy", "")
	srv.AppKey, srv.AppID = &key.PublicKey, 42
	srv.AddPR(githubtest.PR{Number: 5, HeadSHA: strings.Repeat("e", 40)})
	g := newGitHub(t, srv, review.GitHubOptions{App: &review.AppAuth{AppID: 42, InstallationID: 9, Key: parsed}})
	if _, err := g.PullRequest(context.Background(), 5); err != nil {
		t.Fatalf("with the installation token: %v", err)
	}
	if !strings.Contains(strings.Join(srv.Requests(), " "), "POST /app/installations/9/access_tokens") {
		t.Error("no installation token was asked for")
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := review.NewGitHub(context.Background(), "acme/deploy", review.GitHubOptions{APIURL: srv.URL, App: &review.AppAuth{AppID: 42, InstallationID: 9, Key: other}}); err == nil {
		t.Error("a JWT signed with another key was accepted")
	}
	if _, err := review.ParseAppKey([]byte("not a key")); err == nil || !strings.Contains(err.Error(), "not PEM") {
		t.Errorf("bad key: %v", err)
	}
}

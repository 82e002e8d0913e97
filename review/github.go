package review

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/google/go-github/v82/github"

	md "github.com/gantryops/gantry/internal/markdown"
)

// MaxCommentChars is the longest comment body GitHub accepts; longer ones
// are refused with 422.
const MaxCommentChars = 65536

// GitHubOptions configures NewGitHub.
type GitHubOptions struct {
	// APIURL is the REST API's root: https://api.github.com/ (the default),
	// or https://HOST/api/v3/ for GitHub Enterprise Server.
	APIURL string
	// Token authenticates (GITHUB_TOKEN); App instead, if set.
	Token string
	// App authenticates as a GitHub App installation.
	App *AppAuth
	// CommentAuthor names the login gantry's comments are written by, for
	// a token GitHub will not say of: an App's installation token given as
	// Token (SLUG[bot]). Empty: asked of GitHub (GET /user, or GET /app
	// for App), and github-actions[bot] for a token GET /user refuses (the
	// GITHUB_TOKEN of Actions). When GitHub can say, it must agree.
	CommentAuthor string
	// HTTPClient sends the requests; nil: http.DefaultClient.
	HTTPClient *http.Client
}

// GitHub is one repository on GitHub, and who gantry writes there as.
type GitHub struct {
	client      *github.Client
	owner, name string
	self        Identity
}

// NewGitHub returns a client for repo ("OWNER/NAME") and finds out who its
// comments are written by (Identity). With App set, it exchanges the App's
// key for an installation token first.
func NewGitHub(ctx context.Context, repo string, opts GitHubOptions) (*GitHub, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("--repo %q: give the repository as OWNER/NAME", repo)
	}
	base := opts.APIURL
	if base == "" {
		base = "https://api.github.com/"
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	api, err := url.Parse(base)
	if err != nil || (api.Scheme != "https" && api.Scheme != "http") {
		return nil, fmt.Errorf("--api-url %q: give the REST API's URL, e.g. https://github.example.com/api/v3", opts.APIURL)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	token := opts.Token
	var self Identity
	if opts.App != nil {
		if token, self, err = opts.App.installationToken(ctx, api, hc); err != nil {
			return nil, err
		}
		if opts.CommentAuthor != "" && !strings.EqualFold(opts.CommentAuthor, self.Login) {
			return nil, fmt.Errorf("--comment-author %s, but GitHub App %d writes as %s: drop --comment-author", opts.CommentAuthor, opts.App.AppID, self.Login)
		}
	}
	if token == "" {
		return nil, errors.New("no GitHub credentials: set GITHUB_TOKEN, or give --app-id, --app-installation-id and the App's private key (GITHUB_APP_PRIVATE_KEY or --app-key-file)")
	}
	c := github.NewClient(hc).WithAuthToken(token)
	c.BaseURL = api
	if opts.App == nil {
		if self, err = whoami(ctx, c, opts.CommentAuthor); err != nil {
			return nil, err
		}
	}
	return &GitHub{client: c, owner: owner, name: name, self: self}, nil
}

// Identity is who the review's comments are written by.
func (g *GitHub) Identity() Identity { return g.self }

// PullRequest is what a review needs to know about a pull request.
type PullRequest struct {
	Number int
	// HeadSHA is the commit to plan; HeadRef its branch.
	HeadSHA, HeadRef string
	// HeadRepo is the clone URL of the repository holding the head (a fork,
	// or the repository itself); SameRepo says which.
	HeadRepo string
	SameRepo bool
	// BaseRef is the branch it would merge into.
	BaseRef string
}

// PullRequest returns pull request n.
func (g *GitHub) PullRequest(ctx context.Context, n int) (*PullRequest, error) {
	pr, _, err := g.client.PullRequests.Get(ctx, g.owner, g.name, n)
	if err != nil {
		return nil, fmt.Errorf("pull request %s/%s#%d: %w", g.owner, g.name, n, err)
	}
	head := pr.GetHead()
	if head.GetSHA() == "" {
		return nil, fmt.Errorf("pull request %s/%s#%d has no head commit", g.owner, g.name, n)
	}
	out := &PullRequest{Number: n, HeadSHA: head.GetSHA(), HeadRef: head.GetRef(), BaseRef: pr.GetBase().GetRef(),
		HeadRepo: head.GetRepo().GetCloneURL()}
	out.SameRepo = head.GetRepo() == nil || strings.EqualFold(head.GetRepo().GetFullName(), g.owner+"/"+g.name)
	return out, nil
}

// Marker is the hidden marker of the comment holding stack's plan: the
// text of the HTML comment (md.Comment) that starts it.
func Marker(stack string) string { return "gantry:plan stack=" + stack }

// maxFailureBytes bounds the error a failure comment quotes.
const maxFailureBytes = 20000

// FailureComment is the comment body saying that stack could not be
// planned at commit, and why: the error (which quotes the branch's files
// and names) in a code block it cannot close, cut to fit.
func FailureComment(stack, commit string, err error) string {
	msg := err.Error()
	if len(msg) > maxFailureBytes {
		cut := maxFailureBytes
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return fmt.Sprintf("%s\n### gantry plan: %s\n\n> [!CAUTION]\n> **Plan failed** at %s: nothing can be said about what merging would do.\n\n%s",
		md.Comment(Marker(stack)), md.Code(stack), md.Code(commit), md.Fence("", strings.Split(msg, "\n")))
}

// Comment is the comment a review left.
type Comment struct {
	ID  int64
	URL string
	// Created is true for a new comment, false for one edited in place.
	Created bool
	// Unchanged: the comment already said exactly this; nothing was sent.
	Unchanged bool
}

// Upsert keeps one comment on pull request n holding marker: it edits the
// first comment written by gantry's own identity that starts with the
// marker, or creates one. Comments by anyone else are left alone, marker
// or not. body must start with the marker as an HTML comment (md.Comment)
// and fit in MaxCommentChars.
func (g *GitHub) Upsert(ctx context.Context, n int, marker, body string) (*Comment, error) {
	if !strings.HasPrefix(body, md.Comment(marker)) {
		return nil, fmt.Errorf("comment body does not start with its marker %q", marker)
	}
	if len(body) > MaxCommentChars {
		return nil, fmt.Errorf("comment of %d characters is over GitHub's limit of %d", len(body), MaxCommentChars)
	}
	existing, err := g.find(ctx, n, marker)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if existing.Body == body {
			return &Comment{ID: existing.ID, URL: existing.HTMLURL, Unchanged: true}, nil
		}
		c, _, err := g.client.Issues.EditComment(ctx, g.owner, g.name, existing.ID, &github.IssueComment{Body: github.Ptr(body)})
		if err != nil {
			return nil, fmt.Errorf("edit comment %d on %s/%s#%d: %w", existing.ID, g.owner, g.name, n, err)
		}
		return &Comment{ID: c.GetID(), URL: c.GetHTMLURL()}, nil
	}
	c, _, err := g.client.Issues.CreateComment(ctx, g.owner, g.name, n, &github.IssueComment{Body: github.Ptr(body)})
	if err != nil {
		return nil, fmt.Errorf("comment on %s/%s#%d: %w", g.owner, g.name, n, err)
	}
	return &Comment{ID: c.GetID(), URL: c.GetHTMLURL(), Created: true}, nil
}

// find returns the pull request's first comment written by gantry's
// identity and starting with marker, reading every page of comments.
func (g *GitHub) find(ctx context.Context, n int, marker string) (*comment, error) {
	tag := md.Comment(marker)
	for page := 1; page != 0; {
		req, err := g.client.NewRequest("GET", fmt.Sprintf("repos/%s/%s/issues/%d/comments?per_page=100&page=%d",
			url.PathEscape(g.owner), url.PathEscape(g.name), n, page), nil)
		if err != nil {
			return nil, err
		}
		var comments []comment
		resp, err := g.client.Do(ctx, req, &comments)
		if err != nil {
			return nil, fmt.Errorf("list comments of %s/%s#%d: %w", g.owner, g.name, n, err)
		}
		for i, c := range comments {
			if g.self.wrote(c) && strings.HasPrefix(c.Body, tag) {
				return &comments[i], nil
			}
		}
		page = resp.NextPage
	}
	return nil, nil
}

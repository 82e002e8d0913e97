package review

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v82/github"
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
	// HTTPClient sends the requests; nil: http.DefaultClient.
	HTTPClient *http.Client
}

// GitHub is one repository on GitHub.
type GitHub struct {
	client      *github.Client
	owner, name string
}

// NewGitHub returns a client for repo ("OWNER/NAME"). With App set, it
// exchanges the App's key for an installation token first.
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
	if opts.App != nil {
		if token, err = opts.App.installationToken(ctx, api, hc); err != nil {
			return nil, err
		}
	}
	if token == "" {
		return nil, errors.New("no GitHub credentials: set GITHUB_TOKEN, or give --app-id, --app-installation-id and the App's private key (GITHUB_APP_PRIVATE_KEY or --app-key-file)")
	}
	c := github.NewClient(hc).WithAuthToken(token)
	c.BaseURL = api
	return &GitHub{client: c, owner: owner, name: name}, nil
}

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

// Marker is the hidden marker of the comment holding stack's plan.
func Marker(stack string) string { return "gantry:plan stack=" + stack }

// FailureComment is the comment body saying that stack could not be
// planned at commit, and why (the error, in a code block, cut to fit).
func FailureComment(stack, commit string, err error) string {
	msg := strings.ReplaceAll(err.Error(), "```", "ˋˋˋ")
	if len(msg) > 20000 {
		msg = msg[:20000] + "…"
	}
	return fmt.Sprintf("<!-- %s -->\n### gantry plan: `%s`\n\n> [!CAUTION]\n> **Plan failed** at `%s`: nothing can be said about what merging would do.\n\n```\n%s\n```\n",
		Marker(stack), stack, commit, msg)
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
// first such comment (by anyone) in place, or creates it. body must start
// with the marker as an HTML comment and fit in MaxCommentChars.
func (g *GitHub) Upsert(ctx context.Context, n int, marker, body string) (*Comment, error) {
	if !strings.Contains(body, "<!-- "+marker+" -->") {
		return nil, fmt.Errorf("comment body lacks its marker %q", marker)
	}
	if len(body) > MaxCommentChars {
		return nil, fmt.Errorf("comment of %d characters is over GitHub's limit of %d", len(body), MaxCommentChars)
	}
	existing, err := g.find(ctx, n, marker)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if existing.GetBody() == body {
			return &Comment{ID: existing.GetID(), URL: existing.GetHTMLURL(), Unchanged: true}, nil
		}
		c, _, err := g.client.Issues.EditComment(ctx, g.owner, g.name, existing.GetID(), &github.IssueComment{Body: github.Ptr(body)})
		if err != nil {
			return nil, fmt.Errorf("edit comment %d on %s/%s#%d: %w", existing.GetID(), g.owner, g.name, n, err)
		}
		return &Comment{ID: c.GetID(), URL: c.GetHTMLURL()}, nil
	}
	c, _, err := g.client.Issues.CreateComment(ctx, g.owner, g.name, n, &github.IssueComment{Body: github.Ptr(body)})
	if err != nil {
		return nil, fmt.Errorf("comment on %s/%s#%d: %w", g.owner, g.name, n, err)
	}
	return &Comment{ID: c.GetID(), URL: c.GetHTMLURL(), Created: true}, nil
}

// find returns the pull request's first comment holding marker, reading
// every page of comments.
func (g *GitHub) find(ctx context.Context, n int, marker string) (*github.IssueComment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	tag := "<!-- " + marker + " -->"
	for {
		comments, resp, err := g.client.Issues.ListComments(ctx, g.owner, g.name, n, opts)
		if err != nil {
			return nil, fmt.Errorf("list comments of %s/%s#%d: %w", g.owner, g.name, n, err)
		}
		for _, c := range comments {
			if strings.Contains(c.GetBody(), tag) {
				return c, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

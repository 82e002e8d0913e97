package review

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v82/github"
)

// Identity is who gantry's comments are written by, as GitHub records
// their author. A review finds it once, when it connects, and edits only
// comments whose author it is: anyone can write a comment carrying
// gantry's marker, and a token with write access may edit anyone's
// comment, so the marker alone must not decide.
type Identity struct {
	// Login is the author's login: the token's user for a personal access
	// token, SLUG[bot] for a GitHub App, github-actions[bot] for the
	// GITHUB_TOKEN of GitHub Actions. GitHub compares logins without case.
	Login string
	// Type is the author's user.type: "User" or "Bot".
	Type string
	// AppID, when not 0, is the App gantry's comments are made through: a
	// comment GitHub says was made through another App is not gantry's.
	AppID int64
}

// actionsBot is the author of comments made with the GITHUB_TOKEN of
// GitHub Actions (an installation token of the Actions App).
var actionsBot = Identity{Login: "github-actions[bot]", Type: "Bot"}

// botIdentity is the identity of an App's bot user.
func botIdentity(slug string, appID int64) Identity {
	return Identity{Login: slug + "[bot]", Type: "Bot", AppID: appID}
}

// String is the login.
func (i Identity) String() string { return i.Login }

// wrote reports whether c was written by i.
func (i Identity) wrote(c comment) bool {
	if !strings.EqualFold(c.User.Login, i.Login) || !strings.EqualFold(c.User.Type, i.Type) {
		return false
	}
	return i.AppID == 0 || c.PerformedVia == nil || c.PerformedVia.ID == i.AppID
}

// comment is an issue comment as a review reads it (go-github's type lacks
// performed_via_github_app).
type comment struct {
	ID      int64  `json:"id"`
	Body    string `json:"body"`
	HTMLURL string `json:"html_url"`
	User    struct {
		Login string `json:"login"`
		Type  string `json:"type"`
	} `json:"user"`
	PerformedVia *struct {
		ID   int64  `json:"id"`
		Slug string `json:"slug"`
	} `json:"performed_via_github_app"`
}

// tokenIdentity decides who a token writes as from GitHub's answer to
// GET /user (user, or the HTTP status of a refusal) and the login the
// operator named, if any. GitHub refuses GET /user to installation tokens
// (403): the GITHUB_TOKEN of Actions, whose comments are by
// github-actions[bot], unless the operator names another App's bot.
func tokenIdentity(user *github.User, status int, message, named string) (Identity, error) {
	if user != nil {
		self := Identity{Login: user.GetLogin(), Type: user.GetType()}
		if self.Type == "" {
			self.Type = "User"
		}
		if named != "" && !strings.EqualFold(named, self.Login) {
			return Identity{}, fmt.Errorf("--comment-author %s, but the token is %s's: drop --comment-author or use %s's token", named, self.Login, named)
		}
		return self, nil
	}
	if status != http.StatusForbidden {
		return Identity{}, fmt.Errorf("GitHub answered GET /user with %d", status)
	}
	// GitHub refuses /user to installation tokens with this message; a 403
	// for any other reason (SAML single sign-on not authorised, a secondary
	// rate limit) says nothing of who the token is.
	if !strings.Contains(message, integrationRefusal) {
		return Identity{}, fmt.Errorf("GitHub refused GET /user (403: %s): who the token is cannot be told; authorise the token for the organisation's single sign-on, or retry later", message)
	}
	switch {
	case named == "":
		return actionsBot, nil
	case strings.HasSuffix(strings.ToLower(named), "[bot]"):
		return Identity{Login: named, Type: "Bot"}, nil
	}
	return Identity{}, fmt.Errorf("--comment-author %s: the token is an App's installation token, whose comments are by SLUG[bot]: name that bot", named)
}

// integrationRefusal is GitHub's message refusing GET /user to an
// installation token (an App's, or the Actions GITHUB_TOKEN).
const integrationRefusal = "Resource not accessible by integration"

// whoami asks GitHub who the token is (GET /user) and decides the
// identity with tokenIdentity.
func whoami(ctx context.Context, c *github.Client, named string) (Identity, error) {
	user, resp, err := c.Users.Get(ctx, "")
	var gerr *github.ErrorResponse
	switch {
	case err == nil:
		return tokenIdentity(user, http.StatusOK, "", named)
	case errors.As(err, &gerr) && gerr.Response != nil && gerr.Response.StatusCode == http.StatusForbidden:
		return tokenIdentity(nil, http.StatusForbidden, gerr.Message, named)
	case resp != nil:
		return Identity{}, fmt.Errorf("GitHub token: who is it? GET /user: %w: check GITHUB_TOKEN", err)
	}
	return Identity{}, fmt.Errorf("GitHub token: who is it? GET /user: %w", err)
}

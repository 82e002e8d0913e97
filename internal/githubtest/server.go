// Package githubtest is a stand-in for GitHub's REST API, served by
// httptest on loopback, following GitHub's documented contract for what
// gantry uses: pull requests, issue comments (listed with Link-header
// pagination, created, edited, refused with 422 over 65,536 characters;
// each with its author's user.login, user.type and, for comments made with
// an installation token, performed_via_github_app), GitHub App
// installation tokens and GET /app (the JWT's RS256 signature checked),
// and GET /user (a personal access token's user; 403 "Resource not
// accessible by integration" for installation tokens, the Actions
// GITHUB_TOKEN among them). GitHub itself cannot be reached from tests;
// everything else gantry talks to in tests is real.
package githubtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// User is a GitHub account as GET /user and a comment's user show it.
type User struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	// Type is "User" (people, machine users) or "Bot" (Apps' bot users).
	Type string `json:"type"`
}

// App is a GitHub App as GET /app and performed_via_github_app show it.
type App struct {
	ID   int64  `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// Bot is the bot user of an App: comments made with the App's
// installation tokens are written by SLUG[bot], of type Bot.
func (a App) Bot() User {
	return User{Login: a.Slug + "[bot]", ID: 41000000 + a.ID, Type: "Bot"}
}

// Actions is the GitHub Actions App, whose installation token each
// workflow run receives as GITHUB_TOKEN; its comments are by
// github-actions[bot].
var Actions = App{ID: 15368, Slug: "github-actions", Name: "GitHub Actions"}

// Comment is an issue comment as the server stores it.
type Comment struct {
	ID      int64  `json:"id"`
	Body    string `json:"body"`
	HTMLURL string `json:"html_url"`
	User    User   `json:"user"`
	// PerformedVia is the App whose installation token made the comment;
	// nil for a person's.
	PerformedVia *App `json:"performed_via_github_app"`
}

// principal is who a token authenticates.
type principal struct {
	user User
	// app is set for installation tokens: GET /user refuses them.
	app *App
}

// PR is a pull request as the server serves it.
type PR struct {
	Number  int
	HeadSHA string
	HeadRef string
	// HeadRepo is "OWNER/NAME" of the head; its clone URL is HeadCloneURL.
	HeadRepo, HeadCloneURL string
	BaseRef                string
}

// Server is a fake GitHub for one repository.
type Server struct {
	*httptest.Server
	// Owner and Repo name the repository served.
	Owner, Repo string
	// Token is a personal access token of TokenUser.
	Token string
	// TokenUser is who Token authenticates (default gantry-bot, a User).
	TokenUser User
	// ActionsToken, when set, is accepted as a workflow's GITHUB_TOKEN: an
	// installation token of the Actions App.
	ActionsToken string
	// AppKey verifies App JWTs (nil: App auth is refused).
	AppKey *rsa.PublicKey
	// AppID is the App whose JWTs are accepted; AppSlug its slug (default
	// gantry-app). Its installation tokens write as AppSlug[bot].
	AppID   int64
	AppSlug string

	mu       sync.Mutex
	prs      map[int]PR
	comments map[int][]*Comment // by PR number, in creation order
	nextID   int64
	issued   map[string]bool
	requests []string
}

// NewServer serves owner/repo with token on loopback until t ends.
func NewServer(t testing.TB, owner, repo, token string) *Server {
	s := &Server{Owner: owner, Repo: repo, Token: token, TokenUser: User{Login: "gantry-bot", ID: 7, Type: "User"}, AppSlug: "gantry-app",
		prs: map[int]PR{}, comments: map[int][]*Comment{}, nextID: 1000, issued: map[string]bool{}}
	mux := http.NewServeMux()
	prefix := "/repos/" + owner + "/" + repo
	mux.HandleFunc("GET "+prefix+"/pulls/{n}", s.authed(s.getPR))
	mux.HandleFunc("GET "+prefix+"/issues/{n}/comments", s.authed(s.listComments))
	mux.HandleFunc("POST "+prefix+"/issues/{n}/comments", s.authed(s.createComment))
	mux.HandleFunc("PATCH "+prefix+"/issues/comments/{id}", s.authed(s.editComment))
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", s.installationToken)
	mux.HandleFunc("GET /app", s.getApp)
	mux.HandleFunc("GET /user", s.authed(s.getUser))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// AddPR makes a pull request known.
func (s *Server) AddPR(pr PR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prs[pr.Number] = pr
}

// AddComment adds a comment by someone else (to fill pages).
func (s *Server) AddComment(pr int, body string) {
	s.AddCommentBy(pr, body, User{Login: "someone", ID: 3, Type: "User"}, nil)
}

// AddCommentBy adds a comment written by user, made through app's
// installation token when app is not nil, and returns its ID.
func (s *Server) AddCommentBy(pr int, body string, user User, app *App) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(pr, body, principal{user: user, app: app}).ID
}

func (s *Server) addLocked(pr int, body string, by principal) *Comment {
	s.nextID++
	c := &Comment{ID: s.nextID, Body: body, HTMLURL: fmt.Sprintf("https://github.invalid/%s/%s/pull/%d#issuecomment-%d", s.Owner, s.Repo, pr, s.nextID),
		User: by.user, PerformedVia: by.app}
	s.comments[pr] = append(s.comments[pr], c)
	return c
}

// Comments returns the pull request's comments, in order.
func (s *Server) Comments(pr int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Comment, len(s.comments[pr]))
	for i, c := range s.comments[pr] {
		out[i] = *c
	}
	return out
}

// Requests returns and forgets the requests served ("GET /repos/...").
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.requests
	s.requests = nil
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// authed serves h to requests with a token the server knows.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, ok := s.whoami(r)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
			return
		}
		h(w, r, who)
	}
}

// whoami is who the request's token authenticates.
func (s *Server) whoami(r *http.Request) (principal, bool) {
	tok := strings.TrimPrefix(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), "token ")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case tok == "":
		return principal{}, false
	case tok == s.Token:
		return principal{user: s.TokenUser}, true
	case tok == s.ActionsToken:
		app := Actions
		return principal{user: app.Bot(), app: &app}, true
	case s.issued[tok]:
		app := s.app()
		return principal{user: app.Bot(), app: &app}, true
	}
	return principal{}, false
}

func (s *Server) app() App {
	return App{ID: s.AppID, Slug: s.AppSlug, Name: s.AppSlug}
}

// getUser is GET /user: the token's user; installation tokens are refused
// as GitHub refuses them.
func (s *Server) getUser(w http.ResponseWriter, _ *http.Request, who principal) {
	if who.app != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Resource not accessible by integration",
			"documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user", "status": "403"})
		return
	}
	writeJSON(w, http.StatusOK, who.user)
}

// getApp is GET /app: the App its JWT authenticates.
func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	jwt := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.AppKey == nil || !s.validJWT(jwt) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
		return
	}
	app := s.app()
	writeJSON(w, http.StatusOK, map[string]any{"id": app.ID, "slug": app.Slug, "name": app.Name,
		"owner": map[string]any{"login": s.Owner, "type": "Organization"}})
}

func (s *Server) number(w http.ResponseWriter, r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("n"))
	s.mu.Lock()
	_, ok := s.prs[n]
	s.mu.Unlock()
	if err != nil || !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return 0, false
	}
	return n, true
}

func (s *Server) getPR(w http.ResponseWriter, r *http.Request, _ principal) {
	n, ok := s.number(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	pr := s.prs[n]
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"number": pr.Number, "state": "open",
		"head": map[string]any{"sha": pr.HeadSHA, "ref": pr.HeadRef, "repo": map[string]any{"full_name": pr.HeadRepo, "clone_url": pr.HeadCloneURL}},
		"base": map[string]any{"ref": pr.BaseRef, "repo": map[string]any{"full_name": s.Owner + "/" + s.Repo}},
	})
}

// installationToken checks the App JWT (RS256 with AppKey, iss = AppID,
// not expired) and issues a token the other endpoints accept.
func (s *Server) installationToken(w http.ResponseWriter, r *http.Request) {
	jwt := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.AppKey == nil || !s.validJWT(jwt) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
		return
	}
	tok := "ghs_installation_" + r.PathValue("id")
	s.mu.Lock()
	s.issued[tok] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
}

func (s *Server) validJWT(jwt string) bool {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	enc := base64.RawURLEncoding
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(s.AppKey, crypto.SHA256, sum[:], sig) != nil {
		return false
	}
	payload, err := enc.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Iss      string `json:"iss"`
		Iat, Exp int64
	}
	if json.Unmarshal(payload, &claims) != nil {
		return false
	}
	now := time.Now().Unix()
	return claims.Iss == strconv.FormatInt(s.AppID, 10) && claims.Iat <= now && claims.Exp > now && claims.Exp-claims.Iat <= 600
}

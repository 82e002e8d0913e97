package gittest

import (
	"crypto/subtle"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// HTTPServer serves the bare repositories under Root over Git's smart HTTP
// protocol with the real git http-backend.
type HTTPServer struct {
	*httptest.Server
	// Root holds the served bare repositories; "name.git" is at URL+"/name.git".
	Root string

	mu       sync.Mutex
	requests []string
	auth     []string // Authorization headers received
}

// NewHTTPServer serves root on loopback. With a non-empty token, every request
// must carry it as the password of HTTP basic auth (any user name), as GitHub
// and GitLab accept tokens; others get 401.
func NewHTTPServer(t testing.TB, root, token string) *HTTPServer {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v (is git installed?)", err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
		// "Not a git repository" and the like reach the client as HTTP status.
		Stderr: io.Discard,
	}
	s := &HTTPServer{Root: root}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		if a := r.Header.Get("Authorization"); a != "" {
			s.auth = append(s.auth, a)
		}
		s.mu.Unlock()
		if token != "" {
			_, pass, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(pass), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
				http.Error(w, "bad credentials", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// Requests returns and forgets the requests served so far ("GET /x.git/info/refs").
func (s *HTTPServer) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.requests
	s.requests = nil
	return out
}

// Authorizations returns and forgets the Authorization headers received so
// far, one per request that carried one.
func (s *HTTPServer) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.auth
	s.auth = nil
	return out
}

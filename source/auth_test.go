package source_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

// openServer is a plain-HTTP Git server that needs no credentials and
// records the Authorization headers it receives.
func openServer(t *testing.T) (*gittest.HTTPServer, string, string) {
	t.Helper()
	repo := gittest.NewRepo(t)
	sha := repo.Commit("one", map[string]string{"app/cm.yaml": configMap("app", "v1")})
	root := t.TempDir()
	repo.Bare(root, "stack")
	srv := gittest.NewHTTPServer(t, root, "")
	return srv, srv.URL + "/stack.git", sha
}

// TestFetchWithholdsCredentialsOverHTTP: credentials (GANTRY_GIT_TOKEN,
// user and password, or embedded in the URL) are never sent to a plain
// http:// remote unless the repository is explicitly allowed; the server
// (real git http-backend) records every Authorization header it gets. A
// server that needs them fails with an error saying why none were sent and
// how to allow it.
func TestFetchWithholdsCredentialsOverHTTP(t *testing.T) {
	t.Parallel()
	srv, url, sha := openServer(t)
	ctx := context.Background()
	withURLCreds := strings.Replace(url, "http://", "http://ci:"+token+"@", 1)
	for _, tc := range []struct {
		name      string
		auth      source.Auth
		repo      string
		allowed   []string
		wantCreds bool
	}{
		{name: "token", auth: source.Auth{Token: token}, repo: url},
		{name: "user and password", auth: source.Auth{Username: "ci", Password: token}, repo: url},
		{name: "credentials in the URL", repo: withURLCreds},
		{name: "token, another repository allowed", auth: source.Auth{Token: token}, repo: url, allowed: []string{srv.URL + "/other.git"}},
		{name: "token, allowed", auth: source.Auth{Token: token}, repo: url, allowed: []string{url}, wantCreds: true},
		{name: "credentials in the URL, allowed", repo: withURLCreds, allowed: []string{url}, wantCreds: true},
	} {
		c, err := newFetcher(t, tc.auth, tc.allowed...).Fetch(ctx, tc.repo, "main")
		if err != nil || c.SHA != sha {
			t.Errorf("%s: Fetch = %v, %v; want %s", tc.name, c, err, sha)
			continue
		}
		got := srv.Authorizations()
		if tc.wantCreds != (len(got) > 0) {
			t.Errorf("%s: the server received %d Authorization headers, want credentials sent: %v", tc.name, len(got), tc.wantCreds)
		}
	}

	// A server that needs the token: the error says they were withheld.
	tokenSrv := gittest.NewHTTPServer(t, srv.Root, token)
	_, err := newFetcher(t, source.Auth{Token: token}).Fetch(ctx, tokenSrv.URL+"/stack.git", "main")
	if err == nil || !strings.Contains(err.Error(), "were not sent") || !strings.Contains(err.Error(), "allowInsecureHTTPCredentials") || strings.Contains(err.Error(), token) {
		t.Errorf("token withheld from a server that needs it: %v, want an error saying why and how to allow it", err)
	}
	if got := tokenSrv.Authorizations(); len(got) != 0 {
		t.Errorf("the server that needs a token received %d Authorization headers", len(got))
	}
}

// TestFetchGitProtocolWithoutCredentials: the git protocol has no
// authentication, so credentials are never offered over git:// (go-git
// refuses an auth method there, which made every git:// fetch fail when
// GANTRY_GIT_TOKEN was set); a real git daemon serves the repository.
func TestFetchGitProtocolWithoutCredentials(t *testing.T) {
	t.Parallel()
	srv, _, sha := openServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	daemon := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--base-path="+srv.Root, "--listen=127.0.0.1", "--port="+strconv.Itoa(port), srv.Root)
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = daemon.Process.Kill(); _ = daemon.Wait() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatalf("git daemon does not listen: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	url := fmt.Sprintf("git://127.0.0.1:%d/stack.git", port)
	for _, repo := range []string{url, strings.Replace(url, "git://", "git://ci:"+token+"@", 1)} {
		c, err := newFetcher(t, source.Auth{Token: token}).Fetch(context.Background(), repo, "main")
		if err != nil || c.SHA != sha || strings.Contains(c.Repo, token) {
			t.Errorf("fetch over git:// with a token configured: %v, %v", c, err)
		}
	}
}

// httpsOnce installs, for this test binary, go-git's HTTPS transport with a
// client that trusts httptest's certificate (the same for every TLS test
// server); redirect handling stays go-git's own.
var httpsOnce sync.Once

func trustTestTLS(srv *httptest.Server) {
	httpsOnce.Do(func() {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		client.InstallProtocol("https", githttp.NewClient(&http.Client{Transport: tr}))
	})
}

// TestFetchRedirectsKeepCredentials: a remote that redirects elsewhere does
// not take the credentials along: an https:// remote redirecting to plain
// http:// is refused before the request leaves (go-git refuses the
// downgrade), and an http:// remote allowed to receive them redirecting to
// another origin has them stripped. The target servers record what they get.
func TestFetchRedirectsKeepCredentials(t *testing.T) {
	t.Parallel()
	target, _, sha := openServer(t)
	redirect := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusFound)
	}
	ctx := context.Background()

	tlsFront := httptest.NewTLSServer(http.HandlerFunc(redirect))
	t.Cleanup(tlsFront.Close)
	trustTestTLS(tlsFront)
	_, err := newFetcher(t, source.Auth{Token: token}).Fetch(ctx, tlsFront.URL+"/stack.git", "main")
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("https remote redirecting to http: %v, want the redirect refused", err)
	}
	if got := target.Requests(); len(got) != 0 {
		t.Errorf("the plain-http target received %v after a redirect from https", got)
	}

	front := httptest.NewServer(http.HandlerFunc(redirect))
	t.Cleanup(front.Close)
	c, err := newFetcher(t, source.Auth{Token: token}, front.URL+"/stack.git").Fetch(ctx, front.URL+"/stack.git", "main")
	if err != nil || c.SHA != sha {
		t.Fatalf("http remote redirecting to another origin: %v, %v", c, err)
	}
	if got := target.Authorizations(); len(got) != 0 {
		t.Errorf("credentials followed a redirect to another origin: %d Authorization headers", len(got))
	}
}

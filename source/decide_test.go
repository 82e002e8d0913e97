package source

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func TestTagNameMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		signed string
		ref    plumbing.ReferenceName
		ok     bool
	}{
		{"v1.0.0", "refs/tags/v1.0.0", true},
		{"release/v1", "refs/tags/release/v1", true},
		{"v1.0.0", "refs/tags/v2.0.0", false},
		{"v1.0.0", "refs/tags/release/v1.0.0", false},
		{"release/v1.0.0", "refs/tags/v1.0.0", false},
		{"V1.0.0", "refs/tags/v1.0.0", false}, // names are case-sensitive
		{"", "refs/tags/v1.0.0", false},
	} {
		if err := tagNameMatches(tc.signed, tc.ref); (err == nil) != tc.ok {
			t.Errorf("tag %q at %s: %v, want ok=%v", tc.signed, tc.ref, err, tc.ok)
		}
	}
}

func TestHTTPCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scheme  string
		allowed bool
		want    bool
	}{
		{"https", false, true},
		{"https", true, true},
		{"http", false, false},
		{"http", true, true},
		{"git", false, false},
		{"git", true, false}, // the git protocol has no authentication
		{"file", false, false},
		{"ftp", true, false},
		{"", true, false},
	} {
		if got := httpCredentials(tc.scheme, tc.allowed); got != tc.want {
			t.Errorf("httpCredentials(%q, allowed=%v) = %v, want %v", tc.scheme, tc.allowed, got, tc.want)
		}
	}
}

// TestFetcherCredentials: which credentials a fetcher offers each remote,
// from its options and the URL's own.
func TestFetcherCredentials(t *testing.T) {
	t.Parallel()
	f := NewFetcher(FetchOptions{Auth: Auth{Token: "tok", SSHKeyFile: "/k"},
		InsecureHTTPCredentials: []string{"http://mirror.internal/app.git", "http://user:pw@other.internal/x.git", "https://ignored/x.git"}})
	for _, tc := range []struct {
		repo         string
		wantToken    bool
		wantWithheld bool
	}{
		{"https://github.com/acme/app.git", true, false},
		{"http://github.com/acme/app.git", false, true},
		{"http://mirror.internal/app.git", true, false},
		{"http://MIRROR.internal/app.git", false, true}, // not the URL allowed: exact match only
		{"http://other.internal/x.git", true, false},    // allowed without its URL credentials
		{"http://mirror.internal/app.git/", false, true},
		{"git://mirror.internal/app.git", false, true},
		{"ssh://git@github.com/acme/app.git", true, false},
	} {
		remote, urlAuth, err := normaliseURL(tc.repo)
		if err != nil {
			t.Fatal(err)
		}
		creds, withheld := f.credentials(remote, urlAuth)
		if (creds.Token != "") != tc.wantToken || withheld != tc.wantWithheld || creds.SSHKeyFile != "/k" {
			t.Errorf("%s: token offered %v, withheld %v; want %v, %v (SSH key kept)", tc.repo, creds.Token != "", withheld, tc.wantToken, tc.wantWithheld)
		}
	}
}

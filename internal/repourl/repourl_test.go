package repourl

import "testing"

func TestFormOf(t *testing.T) {
	cases := []struct {
		raw  string
		want Form
	}{
		{"./deploy", Local},
		{"deploy", Local},
		{"/srv/git/app", Local},
		{"file:///srv/git/app", File},
		{"https://github.com/acme/app.git", HTTP},
		{"http://git.internal/app", HTTP},
		{"ssh://git@github.com/acme/app", SSH},
		{"git://git.internal/app", Git},
		{"git@github.com:acme/app.git", SCP},
		{"deploy@bastion:repos/app", SCP},
		{"ftp://host/app", Other},
		{"ext::sh -c touch% /tmp/x", Other}, // git's ext transport: refused, never run
	}
	for _, tc := range cases {
		if got := FormOf(tc.raw); got != tc.want {
			t.Errorf("FormOf(%q) = %d, want %d", tc.raw, got, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	cases := []struct{ raw, want string }{
		{"https://github.com/Acme/App.git", "github.com/acme/app"},
		{"https://github.com/acme/app/", "github.com/acme/app"},
		{"ssh://git@github.com/acme/app", "github.com/acme/app"},
		{"ssh://git@github.com:22/acme/app", "github.com/acme/app"},
		{"https://github.com:443/acme/app", "github.com/acme/app"},
		{"git@github.com:acme/app.git", "github.com/acme/app"},
		{"https://git.internal:8443/acme/app", "git.internal:8443/acme/app"},
		{"https://token@github.com/acme/app", "github.com/acme/app"},
		{"http://127.0.0.1:4000/app.git", "127.0.0.1:4000/app"},
		{"https://github.com/acme/other", "github.com/acme/other"},
		{" ./Deploy ", "./deploy"},
	}
	for _, tc := range cases {
		if got := Key(tc.raw); got != tc.want {
			t.Errorf("Key(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

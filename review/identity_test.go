package review

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v82/github"
)

func TestTokenIdentity(t *testing.T) {
	t.Parallel()
	user := func(login, typ string) *github.User {
		return &github.User{Login: github.Ptr(login), Type: github.Ptr(typ)}
	}
	for _, tc := range []struct {
		name   string
		user   *github.User
		status int
		msg    string
		named  string
		want   Identity
		err    string
	}{
		{"personal token", user("gantry-bot", "User"), http.StatusOK, "", "", Identity{Login: "gantry-bot", Type: "User"}, ""},
		{"named the same", user("Gantry-Bot", "User"), http.StatusOK, "", "gantry-bot", Identity{Login: "Gantry-Bot", Type: "User"}, ""},
		{"named another", user("gantry-bot", "User"), http.StatusOK, "", "mallory", Identity{}, "but the token is gantry-bot's"},
		{"actions token", nil, http.StatusForbidden, integrationRefusal, "", Identity{Login: "github-actions[bot]", Type: "Bot"}, ""},
		{"app token named", nil, http.StatusForbidden, integrationRefusal, "deployer[bot]", Identity{Login: "deployer[bot]", Type: "Bot"}, ""},
		{"app token named a user", nil, http.StatusForbidden, integrationRefusal, "mallory", Identity{}, "name that bot"},
		{"personal token refused by SSO", nil, http.StatusForbidden, "Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.", "", Identity{}, "cannot be told"},
		{"secondary rate limit", nil, http.StatusForbidden, "You have exceeded a secondary rate limit.", "", Identity{}, "cannot be told"},
		{"other refusal", nil, http.StatusNotFound, "Not Found", "", Identity{}, "answered GET /user with 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tokenIdentity(tc.user, tc.status, tc.msg, tc.named)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestIdentityWrote(t *testing.T) {
	t.Parallel()
	by := func(login, typ string, app int64) comment {
		var c comment
		c.User.Login, c.User.Type = login, typ
		if app != 0 {
			c.PerformedVia = &struct {
				ID   int64  `json:"id"`
				Slug string `json:"slug"`
			}{ID: app}
		}
		return c
	}
	app := botIdentity("gantry-app", 42)
	pat := Identity{Login: "gantry-bot", Type: "User"}
	for _, tc := range []struct {
		name string
		self Identity
		c    comment
		want bool
	}{
		{"app's bot", app, by("gantry-app[bot]", "Bot", 42), true},
		{"app's bot, no app said", app, by("gantry-app[bot]", "Bot", 0), true},
		{"app's bot via another app", app, by("gantry-app[bot]", "Bot", 7), false},
		{"a user named like the app", app, by("gantry-app", "User", 0), false},
		{"another app", app, by("evil[bot]", "Bot", 666), false},
		{"token's user", pat, by("gantry-bot", "User", 0), true},
		{"token's user, other case", pat, by("GANTRY-BOT", "User", 0), true},
		{"token's user through an app", pat, by("gantry-bot", "User", 9), true},
		{"a bot named like the user", pat, by("gantry-bot", "Bot", 0), false},
		{"someone", pat, by("mallory", "User", 0), false},
		{"actions", actionsBot, by("github-actions[bot]", "Bot", 15368), true},
		{"no author", actionsBot, by("", "", 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.self.wrote(tc.c); got != tc.want {
				t.Errorf("%s wrote a comment by %q (%s) = %v, want %v", tc.self, tc.c.User.Login, tc.c.User.Type, got, tc.want)
			}
		})
	}
}

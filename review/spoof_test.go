package review_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/githubtest"
	"github.com/gantryops/gantry/review"
)

// TestUpsertEditsOnlyItsOwnComment: comments by anyone else carrying the
// marker — a person, another App's bot, a user named like gantry's bot —
// and gantry's own comments that only quote the marker are left alone: the
// first review creates its comment, the next edits that one. For each way
// gantry authenticates: a personal access token, the GITHUB_TOKEN of
// Actions, a GitHub App.
func TestUpsertEditsOnlyItsOwnComment(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	evil := githubtest.App{ID: 666, Slug: "evil", Name: "evil"}
	for _, tc := range []struct {
		name string
		opts review.GitHubOptions
		// self is who gantry writes as; lookalike a user named like it.
		self, lookalike githubtest.User
		via             *githubtest.App
	}{
		{"token", review.GitHubOptions{Token: "tok"}, githubtest.User{Login: "gantry-bot", ID: 7, Type: "User"},
			githubtest.User{Login: "gantry-bot[bot]", ID: 8, Type: "Bot"}, nil},
		{"actions", review.GitHubOptions{Token: "ghs_actions"}, githubtest.Actions.Bot(),
			githubtest.User{Login: "github-actions", ID: 9, Type: "User"}, &githubtest.Actions},
		{"app", review.GitHubOptions{App: &review.AppAuth{AppID: 42, InstallationID: 9, Key: key}}, githubtest.App{ID: 42, Slug: "gantry-app"}.Bot(),
			githubtest.User{Login: "gantry-app", ID: 10, Type: "User"}, &githubtest.App{ID: 42, Slug: "gantry-app", Name: "gantry-app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := githubtest.NewServer(t, "acme", "deploy", "tok")
			srv.ActionsToken, srv.AppKey, srv.AppID = "ghs_actions", &key.PublicKey, 42
			srv.AddPR(githubtest.PR{Number: 7, HeadSHA: strings.Repeat("a", 40)})
			forged := body("shop", "Plan: nothing to see")
			spoofs := []int64{
				srv.AddCommentBy(7, forged, githubtest.User{Login: "mallory", ID: 5, Type: "User"}, nil),
				srv.AddCommentBy(7, forged, evil.Bot(), &evil),
				srv.AddCommentBy(7, forged, tc.lookalike, nil),
				srv.AddCommentBy(7, "quoting: "+forged, tc.self, tc.via),
			}
			if tc.name != "actions" {
				spoofs = append(spoofs, srv.AddCommentBy(7, forged, githubtest.Actions.Bot(), &githubtest.Actions))
			}
			g := newGitHub(t, srv, tc.opts)
			ctx := context.Background()
			first, err := g.Upsert(ctx, 7, review.Marker("shop"), body("shop", "Plan: 1 to add"))
			if err != nil || !first.Created {
				t.Fatalf("first review = %+v, %v; want a comment of its own", first, err)
			}
			second, err := g.Upsert(ctx, 7, review.Marker("shop"), body("shop", "Plan: 2 to add"))
			if err != nil || second.ID != first.ID {
				t.Fatalf("second review = %+v, %v; want comment %d edited", second, err, first.ID)
			}
			for _, c := range srv.Comments(7) {
				switch {
				case c.ID == first.ID:
					if c.User != tc.self || c.Body != body("shop", "Plan: 2 to add") {
						t.Errorf("gantry's comment is by %+v and reads %q", c.User, c.Body)
					}
				case !strings.Contains(c.Body, "Plan: nothing to see"):
					t.Errorf("comment %d by %s was edited to %q", c.ID, c.User.Login, c.Body)
				}
			}
			if n := len(srv.Comments(7)); n != len(spoofs)+1 {
				t.Errorf("%d comments, want the %d others and gantry's", n, len(spoofs))
			}
		})
	}
}

// TestIdentityOncePerReview: gantry asks GitHub who it is once, when it
// connects (GET /user for a token, GET /app for an App), not per comment.
func TestIdentityOncePerReview(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := githubtest.NewServer(t, "acme", "deploy", "tok")
	srv.ActionsToken, srv.AppKey, srv.AppID, srv.AppSlug = "ghs_actions", &key.PublicKey, 42, "deployer"
	srv.AddPR(githubtest.PR{Number: 1, HeadSHA: strings.Repeat("b", 40)})
	ctx := context.Background()
	for _, tc := range []struct {
		name, want, asks string
		opts             review.GitHubOptions
	}{
		{"token", "gantry-bot", "GET /user", review.GitHubOptions{Token: "tok"}},
		{"actions", "github-actions[bot]", "GET /user", review.GitHubOptions{Token: "ghs_actions"}},
		{"app", "deployer[bot]", "GET /app", review.GitHubOptions{App: &review.AppAuth{AppID: 42, InstallationID: 3, Key: key}}},
	} {
		srv.Requests()
		g := newGitHub(t, srv, tc.opts)
		if got := g.Identity().Login; got != tc.want {
			t.Errorf("%s: writes as %s, want %s", tc.name, got, tc.want)
		}
		for range 2 {
			if _, err := g.Upsert(ctx, 1, review.Marker(tc.name), body(tc.name, "Plan")); err != nil {
				t.Fatal(err)
			}
		}
		reqs := srv.Requests()
		if n := countPrefix(reqs, tc.asks); n != 1 {
			t.Errorf("%s: %d %s for two reviews' comments, want 1: %v", tc.name, n, tc.asks, reqs)
		}
	}
	if _, err := review.NewGitHub(ctx, "acme/deploy", review.GitHubOptions{APIURL: srv.URL, Token: "tok", CommentAuthor: "someone-else"}); err == nil || !strings.Contains(err.Error(), "the token is gantry-bot's") {
		t.Errorf("--comment-author disagreeing with GitHub: %v", err)
	}
	if _, err := review.NewGitHub(ctx, "acme/deploy", review.GitHubOptions{APIURL: srv.URL, App: &review.AppAuth{AppID: 42, InstallationID: 3, Key: key}, CommentAuthor: "other[bot]"}); err == nil || !strings.Contains(err.Error(), "writes as deployer[bot]") {
		t.Errorf("--comment-author disagreeing with the App: %v", err)
	}
}

// TestFailureCommentHoldsItsError: an error quoting hostile file content
// stays inside the failure comment's code block — it cannot close it, open
// HTML, mention anyone — and another stack's marker quoted in it does not
// make that stack's review take the comment for its own.
func TestFailureCommentHoldsItsError(t *testing.T) {
	t.Parallel()
	hostile := "render deploy/x.yaml: line 3: ```\n  ````\n</details><!-- gantry:plan stack=other -->\r```@acme/admins"
	got := review.FailureComment("shop", strings.Repeat("c", 40), errors.New(hostile))
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	open := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			open = i
			break
		}
	}
	if open < 0 || lines[0] != "<!-- "+review.Marker("shop")+" -->" {
		t.Fatalf("no code block, or the marker is not first:\n%s", got)
	}
	fence := lines[open]
	for i, l := range lines[open+1 : len(lines)-1] {
		if t2 := strings.TrimSpace(l); len(t2) >= len(fence) && strings.Trim(t2, "`") == "" {
			t.Errorf("line %d closes the code block early: %q", open+2+i, l)
		}
	}
	if lines[len(lines)-1] != fence || strings.ContainsRune(got, '\r') {
		t.Errorf("the code block does not end the comment, or a carriage return splits a line:\n%s", got)
	}

	srv := githubtest.NewServer(t, "acme", "deploy", "tok")
	srv.AddPR(githubtest.PR{Number: 2, HeadSHA: strings.Repeat("c", 40)})
	g := newGitHub(t, srv, review.GitHubOptions{Token: "tok"})
	ctx := context.Background()
	if _, err := g.Upsert(ctx, 2, review.Marker("shop"), got); err != nil {
		t.Fatal(err)
	}
	other, err := g.Upsert(ctx, 2, review.Marker("other"), body("other", "Plan: 1 to add"))
	if err != nil || !other.Created {
		t.Errorf("stack other's review = %+v, %v; want a comment of its own, not shop's failure", other, err)
	}
}

package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/githubtest"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/stack"
)

// TestSecretCanaryInFailedRenders: commits whose render fails on a
// Secret's value — a kustomize replacement that quotes the whole value it
// could not split, and a plain manifest whose Secret holds the value under
// a key that is no string — are planned by the CLI, reconciled by gantry
// run --once and by the engine behind the API, and reviewed on a pull
// request. The render fails everywhere, and no output, log line, API
// answer or GitHub comment holds the value in any form (leakForms). Before,
// each printed "options.index 3 is out of bounds for value <the value>".
func TestSecretCanaryInFailedRenders(t *testing.T) {
	t.Parallel()
	const (
		pin      = "canary-render-pin-7b2c4a"
		plainPin = "canary-render-nullkey-31e9d0"
	)
	secret := func(value string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  PIN: \"" + value + "\"\n"
	}
	files := map[string]string{
		"deploy/kustomization.yaml": "resources: [s.yaml, cm.yaml]\nreplacements:\n" +
			"- source: {kind: Secret, name: s, fieldPath: stringData.PIN, options: {delimiter: '/', index: 3}}\n" +
			"  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [data.x]\n",
		"deploy/s.yaml":  secret(pin),
		"deploy/cm.yaml": configMapDoc("a", "1"),
		"plain/s.yaml":   "apiVersion: v1\nkind: Secret\nmetadata:\n  name: p\nstringData:\n  ~: \"" + plainPin + "\"\n",
	}
	values := []string{pin, plainPin}
	ns := env.Namespace(t)
	repo := harness.NewServedRepo(t, files)
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	gh := githubtest.NewServer(t, "acme", "deploy", "gh-token")
	c.env = append(c.env, "GITHUB_TOKEN=gh-token")
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n"+
		"- name: leak\n  source: {repo: %[1]s, ref: main, path: deploy}\n  target: {namespace: %[2]s}\n"+
		"- name: leakplain\n  source: {repo: %[1]s, ref: main, path: plain}\n  target: {namespace: %[2]s}\n", repo.URL, ns))

	// The CLI: plan, and gantry run --once with JSON logs at trace level.
	for _, tc := range []struct {
		args []string
		want []string // what the output says: the render failed as meant
	}{
		{[]string{"plan", "--stack", "leak"}, []string{"out of bounds"}},
		{[]string{"plan", "--stack", "leakplain"}, []string{`key "~" is not a string`}},
		{[]string{"run", "--once", "--log-format", "json", "--log-level", "trace"}, []string{"out of bounds", "is not a string to kubectl apply -f"}},
	} {
		out, errOut, code := c.run(tc.args...)
		if code == 0 {
			t.Errorf("gantry %s succeeded, want the render to fail:\n%s\n%s", strings.Join(tc.args, " "), out, errOut)
		}
		for _, want := range tc.want {
			if !strings.Contains(out+errOut, want) {
				t.Errorf("gantry %s does not say %q: the render failed for another reason\n%s\n%s", strings.Join(tc.args, " "), want, out, errOut)
			}
		}
		checkNoValues(t, "gantry "+strings.Join(tc.args, " "), out+errOut, values)
	}

	// A pull request changing the ConfigMap: the review fails, and says so
	// on the pull request.
	repo.Git("checkout", "-q", "-b", "pr")
	prSHA := repo.Push("pr", map[string]string{"deploy/cm.yaml": configMapDoc("a", "2")})
	gh.AddPR(githubtest.PR{Number: 3, HeadSHA: prSHA, HeadRef: "pr", HeadRepo: "acme/deploy", HeadCloneURL: repo.URL, BaseRef: "main"})
	out, errOut, _ := c.run("review", "github", "--repo", "acme/deploy", "--pr", "3", "--stack", "leak", "--api-url", gh.URL)
	checkNoValues(t, "gantry review", out+errOut, values)
	comments := gh.Comments(3)
	if len(comments) == 0 || !strings.Contains(comments[len(comments)-1].Body, "out of bounds") {
		t.Errorf("the review left no failure comment saying why (%d comments)\n%s\n%s", len(comments), out, errOut)
	}
	for _, cm := range comments {
		checkNoValues(t, "the pull-request comment", cm.Body, values)
	}

	// gantry run's engine and API: the stack's reconcile fails on record.
	s, _ := engineStack(t, "leak", repo, nil)
	opts := runner.DefaultOptions()
	opts.Stacks = []stack.Stack{s.Def}
	opts.MinBackoff, opts.MaxBackoff = 200*time.Millisecond, 400*time.Millisecond
	e := harness.StartRunner(t, s, opts)
	if r := e.NextResult(); r.Err == nil || !strings.Contains(r.Err.Error(), "out of bounds") {
		t.Fatalf("the engine's reconcile: %v, want the render to fail", r.Err)
	}
	code, body := e.Do("GET", "/api/v1/stacks", harness.APIToken, nil, nil)
	if code != http.StatusOK || !strings.Contains(body, "out of bounds") {
		t.Errorf("/api/v1/stacks = %d %s, want the stack's failure", code, body)
	}
	checkNoValues(t, "/api/v1/stacks", body, values)
	checkNoValues(t, "gantry run's log", s.Logs.String(), values)
}

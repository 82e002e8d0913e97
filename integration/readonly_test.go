package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/githubtest"
	"github.com/gantryops/gantry/migrations"
	"github.com/gantryops/gantry/review"
)

// reviewTables are the tables gantry review reads, and all that
// docs/review.md grants its role: not the sealed objects, the audit log,
// outcomes or gates.
var reviewTables = []string{migrations.VersionTable, "stacks", "inventory_objects", "plan_memo", "applies", "plans", "revisions"}

// TestReviewReadOnlyDatabase: gantry review github works with a database
// role that may only SELECT, and only the tables it reads (the least
// privilege docs/review.md sets up), end to end: it plans the pull request against the record the writer
// made, keeps its comment, and changes nothing in the database. Against a
// schema older than the binary's, a review migrates nothing — neither with
// that role nor with one that may write — and says what to run; after
// `gantry db migrate` with a writer, the review works.
func TestReviewReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1", "b", "1"))
	config := fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: ro\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n", repo.URL, ns)
	dsn := env.DB.NewDatabase(t)
	writer := newCLI(t, dsn)
	writer.write("gantry.yaml", config)
	if out, errOut, code := writer.run("apply", "--auto-approve", "--wait=false"); code != 0 {
		t.Fatalf("apply main: exit %d\n%s\n%s", code, out, errOut)
	}
	gh := githubtest.NewServer(t, "acme", "deploy", "gh-token")
	repo.Git("checkout", "-q", "-b", "feature")
	sha := repo.Push("a=2", harness.ConfigMaps("a", "2", "b", "1"))
	gh.AddPR(githubtest.PR{Number: 9, HeadSHA: sha, HeadRef: "feature", HeadRepo: "acme/deploy", HeadCloneURL: repo.URL, BaseRef: "main"})
	reviewer := func(dsn string) *cli {
		c := newCLI(t, dsn)
		c.env = append(c.env, "GITHUB_TOKEN=gh-token")
		c.write("gantry.yaml", config)
		return c
	}
	reviewArgs := []string{"review", "github", "--repo", "acme/deploy", "--pr", "9", "--stack", "ro", "--api-url", gh.URL}

	reader := reviewer(env.DB.ReadOnlyRole(t, dsn, reviewTables...))
	before := recordCounts(t, dsn)
	out, errOut, code := reader.run(reviewArgs...)
	if code != 2 || !strings.Contains(out, "**Plan: 0 to add, 1 to change, 0 to destroy.**") {
		t.Fatalf("review with a read-only role: exit %d\n%s\n%s", code, out, errOut)
	}
	if cms := gh.Comments(9); len(cms) != 1 || !strings.Contains(cms[0].Body, review.Marker("ro")) {
		t.Errorf("comments after the review: %+v", cms)
	}
	if after := recordCounts(t, dsn); after != before {
		t.Errorf("the review changed the record:\nbefore %s\nafter  %s", before, after)
	}

	// A database whose schema is one migration behind this gantry.
	old := env.DB.NewDatabase(t)
	latest := migrateTo(t, old, -1)
	oldReader := env.DB.ReadOnlyRole(t, old, reviewTables...)
	for name, c := range map[string]*cli{"read-only role": reviewer(oldReader), "writer role": reviewer(old)} {
		_, errOut, code := c.run(reviewArgs...)
		if code != 1 || !strings.Contains(errOut, fmt.Sprintf("is at version %d and this gantry needs version %d", latest-1, latest)) || !strings.Contains(errOut, "gantry db migrate") {
			t.Errorf("review of an old schema with the %s: exit %d, want 1 saying what to run\n%s", name, code, errOut)
		}
		if v := dbValue[int32](t, old, "SELECT version FROM "+migrations.VersionTable); v != latest-1 {
			t.Fatalf("the review with the %s migrated the schema to %d", name, v)
		}
	}
	oldWriter := newCLI(t, old)
	if out, errOut, code := oldWriter.run("db", "migrate"); code != 0 || !strings.Contains(out, fmt.Sprintf("Schema version: %d", latest)) {
		t.Fatalf("gantry db migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := reviewer(oldReader).run(reviewArgs...); code != 2 {
		t.Errorf("review after gantry db migrate: exit %d\n%s", code, errOut)
	}
}

// migrateTo migrates the database of dsn to the newest schema plus offset
// (-1: the one before), with the migration files of this tree, and returns
// the newest version.
func migrateTo(t *testing.T, dsn string, offset int32) int32 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	m, err := migrate.NewMigrator(ctx, conn, migrations.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadMigrations(os.DirFS("../migrations")); err != nil {
		t.Fatal(err)
	}
	latest := int32(len(m.Migrations))
	if err := m.MigrateTo(ctx, latest+offset); err != nil {
		t.Fatal(err)
	}
	return latest
}

// TestExampleWorkflowLeastPrivilege: the example pull-request workflow
// installs a pinned gantry (a release or a full commit SHA, never @latest
// or a branch) and gives the job the read-only database URL.
// workflowStep is a step of a GitHub Actions job.
type workflowStep struct {
	Name string            `json:"name"`
	Uses string            `json:"uses"`
	Run  string            `json:"run"`
	Env  map[string]string `json:"env"`
}

func TestExampleWorkflowLeastPrivilege(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../examples/github-actions/plan.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []workflowStep `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	pinned := regexp.MustCompile(`go install github\.com/gantryops/gantry/cmd/gantry@(v\d+\.\d+\.\d+|[0-9a-f]{40})\s*$`)
	var installs, databases int
	for _, step := range wf.Jobs["plan"].Steps {
		if strings.Contains(step.Run, "go install") {
			installs++
			if !pinned.MatchString(strings.TrimSpace(step.Run)) {
				t.Errorf("step %q installs gantry unpinned: %q", step.Name, step.Run)
			}
		}
		if url, ok := step.Env["GANTRY_DATABASE_URL"]; ok {
			databases++
			if url != "${{ secrets.GANTRY_REVIEW_DATABASE_URL }}" {
				t.Errorf("step %q gives the job GANTRY_DATABASE_URL=%s, want the read-only secret GANTRY_REVIEW_DATABASE_URL", step.Name, url)
			}
		}
	}
	if installs != 1 || databases != 1 {
		t.Errorf("%d install steps and %d with a database, want one each", installs, databases)
	}
	for _, step := range wf.Jobs["plan"].Steps {
		if step.Uses != "" && !regexp.MustCompile(`^[\w.-]+/[\w.-]+@[0-9a-f]{40}$`).MatchString(step.Uses) {
			t.Errorf("step uses %q: pin actions by commit (tags can be moved), the job holds secrets", step.Uses)
		}
	}
	// The pin must hold the fixes of issue 12 (the sandboxed render, the
	// comment's identity and escaping, the read-only open): a pin to an older
	// commit passes the form above and runs code open to them.
	pin := pinned.FindStringSubmatch(strings.TrimSpace(installRun(wf.Jobs["plan"].Steps)))
	if len(pin) == 2 && strings.HasPrefix(pin[1], "v") {
		return // a release tag: releases carry every fix of their history
	}
	if len(pin) != 2 {
		return // reported above
	}
	if out, err := exec.Command("git", "merge-base", "--is-ancestor", reviewFixes, pin[1]).CombinedOutput(); err != nil {
		t.Errorf("the workflow pins gantry at %s, which does not hold %s (issue 12's fixes for reviews), or this checkout lacks the history to tell (a shallow clone: git fetch --unshallow): %v %s", pin[1], reviewFixes, err, out)
	}
}

// reviewFixes is the commit with issue 12's fixes for the review path; the
// example workflow's pin must descend from it.
const reviewFixes = "6ab03fd1887c0cd2e19a9fd8eadafc43f2322164"

// installRun is the run of the step that installs gantry.
func installRun(steps []workflowStep) string {
	for _, s := range steps {
		if strings.Contains(s.Run, "go install") {
			return s.Run
		}
	}
	return ""
}

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/githubtest"
	"github.com/gantryops/gantry/review"
)

// recordCounts counts what a stack's record holds in the database.
func recordCounts(t *testing.T, dsn string) string {
	t.Helper()
	var parts []string
	for _, table := range []string{"stacks", "plans", "revisions", "revision_objects", "plan_memo", "inventory_objects", "applies", "audit_events"} {
		parts = append(parts, fmt.Sprintf("%s=%d", table, dbValue[int](t, dsn, "SELECT count(*) FROM "+table)))
	}
	return strings.Join(parts, " ")
}

// TestReviewGitHub: gantry review github plans a pull request's head (a
// branch of the stack's repository) and keeps one comment holding the plan:
// created, then edited on every push, "No changes" when there are none,
// under GitHub's size limit for a huge plan; it exits 2 with changes and 0
// without, and writes nothing to the cluster or the stack's record.
func TestReviewGitHub(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1", "b", "1"))
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: rev\n  source: {repo: %s, ref: main, path: deploy, allowRemoteBases: true}\n  target: {namespace: %s}\n", repo.URL, ns))
	if out, errOut, code := c.run("apply", "--auto-approve", "--wait=false"); code != 0 {
		t.Fatalf("apply main: exit %d\n%s\n%s", code, out, errOut)
	}
	gh := githubtest.NewServer(t, "acme", "deploy", "gh-token")
	c.env = append(c.env, "GITHUB_TOKEN=gh-token")
	for i := range 3 {
		gh.AddComment(7, fmt.Sprintf("review comment %d", i))
	}
	repo.Git("checkout", "-q", "-b", "feature")
	pushPR := func(msg string, files map[string]string) {
		t.Helper()
		sha := repo.Push(msg, files)
		gh.AddPR(githubtest.PR{Number: 7, HeadSHA: sha, HeadRef: "feature", HeadRepo: "acme/deploy", HeadCloneURL: repo.URL, BaseRef: "main"})
	}
	reviewPR := func() (string, string, int) {
		t.Helper()
		return c.run("review", "github", "--repo", "acme/deploy", "--pr", "7", "--stack", "rev", "--api-url", gh.URL)
	}
	ours := func() []githubtest.Comment {
		t.Helper()
		var out []githubtest.Comment
		for _, cm := range gh.Comments(7) {
			if strings.Contains(cm.Body, "<!-- "+review.Marker("rev")+" -->") {
				out = append(out, cm)
			}
		}
		return out
	}
	before := recordCounts(t, dsn)

	pushPR("a=2, c", harness.ConfigMaps("a", "2", "b", "1", "c", "1"))
	out, errOut, code := reviewPR()
	if code != 2 || !strings.Contains(errOut, "Created comment") {
		t.Fatalf("first review: exit %d\n%s\n%s", code, out, errOut)
	}
	cms := ours()
	if len(cms) != 1 || !strings.Contains(cms[0].Body, "**Plan: 1 to add, 1 to change, 0 to destroy.**") || !strings.Contains(cms[0].Body, "`--diff=local`") {
		t.Fatalf("comments after the first review: %+v", cms)
	}
	id := cms[0].ID

	pushPR("drop b", harness.ConfigMaps("a", "2"))
	if _, errOut, code := reviewPR(); code != 2 || !strings.Contains(errOut, "Updated comment") {
		t.Fatalf("second review: exit %d\n%s", code, errOut)
	}
	cms = ours()
	if len(cms) != 1 || cms[0].ID != id || !strings.Contains(cms[0].Body, "This plan is destructive") || !strings.Contains(cms[0].Body, "`ConfigMap/"+ns+"/b` (delete)") {
		t.Fatalf("after the second review: %d comments, want comment %d edited to the destructive plan: %+v", len(cms), id, cms)
	}

	pushPR("back to main", harness.ConfigMaps("a", "1", "b", "1"))
	if _, errOut, code := reviewPR(); code != 0 {
		t.Fatalf("review without changes: exit %d\n%s", code, errOut)
	}
	if cms = ours(); len(cms) != 1 || cms[0].ID != id || !strings.Contains(cms[0].Body, "**No changes.**") {
		t.Fatalf("after a review without changes: %+v", cms)
	}

	var big []string
	for i := range 400 {
		big = append(big, fmt.Sprintf("big-%03d", i), strings.Repeat("x", 2000))
	}
	pushPR("400 big ConfigMaps", harness.ConfigMaps(big...))
	if _, errOut, code := reviewPR(); code != 2 {
		t.Fatalf("review of a huge plan: exit %d\n%s", code, errOut)
	}
	cms = ours()
	if len(cms) != 1 || utf8.RuneCountInString(cms[0].Body) > review.MaxCommentChars || !strings.Contains(cms[0].Body, "are not shown, to keep this comment within GitHub's size limit") {
		t.Fatalf("huge plan: %d comments, %d characters", len(cms), len(cms[0].Body))
	}
	if len(gh.Comments(7)) != 4 {
		t.Errorf("%d comments on the pull request, want the 3 others and ours", len(gh.Comments(7)))
	}

	// The branch is untrusted: remote bases are refused although the stack
	// allows them, and the comment says so.
	pushPR("a remote base", map[string]string{"deploy/cms.yaml!": "", "deploy/kustomization.yaml": "resources:\n- https://example.invalid/evil.yaml\n"})
	if _, errOut, code := reviewPR(); code != 1 || !strings.Contains(errOut, "remote bases are disabled") {
		t.Errorf("review of a branch with a remote base: exit %d\n%s", code, errOut)
	}
	if got := ours(); len(got) != 1 || got[0].ID != id || !strings.Contains(got[0].Body, "**Plan failed**") || !strings.Contains(got[0].Body, "remote bases are disabled") {
		t.Errorf("after a failed review: %+v", got)
	}

	if after := recordCounts(t, dsn); after != before {
		t.Errorf("reviewing changed the record:\nbefore %s\nafter  %s", before, after)
	}
	wantLive(t, ns, "rev", map[string]string{"a": "1", "b": "1"})
}

// TestReviewReadOnlyIdentity: with a token of deploy/plan-readonly's
// ServiceAccount, gantry plan --diff=local succeeds and gantry apply fails
// with a clear permission error, changing nothing.
func TestReviewReadOnlyIdentity(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	admin := env.Clientset(t)
	ctx := context.Background()
	apply := exec.Command("kubectl", "--kubeconfig", env.Cluster.Kubeconfig, "apply", "--server-side", "-k", "../deploy/plan-readonly")
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply -k deploy/plan-readonly: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("kubectl", "--kubeconfig", env.Cluster.Kubeconfig, "delete", "-k", "../deploy/plan-readonly", "--wait=false").Run()
	})
	var token string
	harness.Eventually(t, 30*time.Second, "a token for gantry-plan", func(ctx context.Context) error {
		tr, err := admin.CoreV1().ServiceAccounts("gantry-plan").CreateToken(ctx, "gantry-plan", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		token = tr.Status.Token
		return nil
	})
	kubeconfig := filepath.Join(t.TempDir(), "readonly.kubeconfig")
	cfg, err := os.ReadFile(env.Cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	adminToken := env.Cluster.Config.BearerToken
	if !strings.Contains(string(cfg), adminToken) {
		t.Fatal("the admin kubeconfig does not hold the admin token")
	}
	if err := os.WriteFile(kubeconfig, []byte(strings.ReplaceAll(string(cfg), adminToken, token)), 0o600); err != nil {
		t.Fatal(err)
	}

	repo := harness.NewServedRepo(t, harness.ConfigMaps("a", "1"))
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.env = append(c.env, "KUBECONFIG="+kubeconfig)
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: ro\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n", repo.URL, ns))
	out, errOut, code := c.run("plan", "--diff", "local", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "Plan: 1 to add, 0 to change, 0 to destroy.") {
		t.Fatalf("read-only plan --diff=local: exit %d\n%s\n%s", code, out, errOut)
	}
	_, errOut, code = c.run("apply", "--auto-approve", "--wait=false")
	if code != 1 || !strings.Contains(errOut, "forbidden") || !strings.Contains(errOut, "system:serviceaccount:gantry-plan:gantry-plan") || !strings.Contains(errOut, "plan with --diff=local") {
		t.Fatalf("apply with the read-only identity: exit %d\n%s", code, errOut)
	}
	if _, err := admin.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{}); err == nil {
		t.Error("the read-only identity created a ConfigMap")
	}
	t.Logf("apply refused with: %s", strings.TrimSpace(errOut))
}

package integration

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/internal/gittest"
)

// TestCLISecretKeyChecked: a database sealed with GANTRY_SECRET_KEY knows
// it. With a plan approved at the gate of gantry run, a gantry started with
// another key is refused by every command (before: the approved plan failed
// every reconcile at its digest, and plans were recorded under the other
// key), and one without a key is refused by those that seal or key hashes
// (before: new Secrets were stored as hashes only), while history and the
// gate listing go on; no refusal prints a key. gantry db rotate-key then
// seals everything with the new key: the approved plan is marked stale and
// planned again, a restore reads the Secret back under the new key, and
// the old key is refused.
func TestCLISecretKeyChecked(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	repo.Commit("v1", map[string]string{"deploy/app.yaml": configMapDoc("a", "1") + secretDoc("creds", "key-canary-1")})
	dsn := env.DB.NewDatabase(t)
	keyA := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	keyB := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	withKey := func(keys ...string) *cli {
		c := newCLI(t, dsn)
		c.env = append(c.env, keys...)
		c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: keyed\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n  approval: manual\n", repo.Dir, ns))
		return c
	}
	a, b, none := withKey("GANTRY_SECRET_KEY="+keyA), withKey("GANTRY_SECRET_KEY="+keyB), withKey()

	pending := func(c *cli) string {
		t.Helper()
		out, errOut, code := c.run("run", "--once")
		m := regexp.MustCompile(`keyed: pending plan ([0-9a-f-]{36})`).FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("run --once: exit %d, want a pending plan\n%s\n%s", code, out, errOut)
		}
		return m[1]
	}
	a.mustRun("", "approve", pending(a))
	a.mustRun("", "run", "--once")
	// A new commit, planned and approved: gantry run applies it next.
	repo.Commit("v2", map[string]string{"deploy/app.yaml": configMapDoc("a", "2") + secretDoc("creds", "key-canary-2")})
	approved := pending(a)
	a.mustRun("", "approve", approved)

	refused := func(c *cli, want string, args ...string) {
		t.Helper()
		out, errOut, code := c.run(args...)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("gantry %s: exit %d, want 1 saying %q\n%s\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
		if strings.Contains(out+errOut, keyA) || strings.Contains(out+errOut, keyB) {
			t.Errorf("gantry %s prints a key:\n%s\n%s", strings.Join(args, " "), out, errOut)
		}
	}
	const differs, missing = "GANTRY_SECRET_KEY differs from the key this database was sealed with", "sealed with GANTRY_SECRET_KEY, which is not set"
	for _, args := range [][]string{{"run", "--once"}, {"plan"}, {"apply", "--auto-approve"}, {"history", "keyed"}, {"plans"}} {
		refused(b, differs, args...)
	}
	for _, args := range [][]string{{"run", "--once"}, {"plan"}, {"restore", "keyed", "--to", "1", "--auto-approve"}} {
		refused(none, missing, args...)
	}
	for _, args := range [][]string{{"history", "keyed"}, {"plans"}, {"show", approved}} {
		none.mustRun("", args...)
	}
	if n := dbValue[int64](t, dsn, `SELECT count(*) FROM revisions`); n != 2 {
		t.Errorf("%d revisions recorded, want the two plans' only", n)
	}

	// Rotate deliberately.
	refused(a, "GANTRY_NEW_SECRET_KEY", "db", "rotate-key")
	out := withKey("GANTRY_SECRET_KEY="+keyA, "GANTRY_NEW_SECRET_KEY="+keyB).mustRun("", "db", "rotate-key")
	if !strings.Contains(out, "Sealed 2 stored Secret(s) with the new key; 1 plan(s) waiting at the gate marked stale") || strings.Contains(out, keyB) {
		t.Errorf("rotate-key said:\n%s", out)
	}
	refused(a, differs, "plan")
	again := pending(b)
	if again == approved {
		t.Fatal("the plan approved under the old key is still the one waiting")
	}
	if stale := b.mustRun("", "plans", "--status", "stale"); !strings.Contains(stale, approved) {
		t.Errorf("the plan approved under the old key is not stale:\n%s", stale)
	}
	b.mustRun("", "approve", again)
	b.mustRun("", "run", "--once")
	password := func() string {
		s, err := env.Clientset(t).CoreV1().Secrets(ns).Get(context.Background(), "creds", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Data["password"])
	}
	if got := password(); got != "key-canary-2" {
		t.Errorf("after the plan made under the new key was applied, the password is %q", got)
	}
	// Revision 1 was sealed with the old key, and is read with the new one.
	b.mustRun("", "restore", "keyed", "--to", "1", "--auto-approve", "--wait=false")
	if got := password(); got != "key-canary-1" {
		t.Errorf("restored with the new key, the password is %q", got)
	}
}

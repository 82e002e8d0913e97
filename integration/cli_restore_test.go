package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/history"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/gittest"
)

// configMapDoc is harness.ConfigMapDoc, as the tests here call it.
var configMapDoc = harness.ConfigMapDoc

func secretDoc(name, password string) string {
	return fmt.Sprintf("---\napiVersion: v1\nkind: Secret\nmetadata: {name: %s}\ndata: {password: %s}\n", name, base64.StdEncoding.EncodeToString([]byte(password)))
}

// stackConfig is a gantry.yaml with one stack of repo's deploy directory.
func stackConfig(name, repo, ns string) string {
	return fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: %s\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n  maxPrunePercent: 100\n", name, repo, ns)
}

// mustRun runs the CLI and fails the test unless it exits 0.
func (c *cli) mustRun(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.runIn(stdin, args...)
	if code != 0 {
		c.t.Fatalf("gantry %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// historyOf reads gantry history -o json.
func (c *cli) historyOf(stackName string) history.Log {
	c.t.Helper()
	var l history.Log
	if err := json.Unmarshal([]byte(c.mustRun("", "history", stackName, "-o", "json")), &l); err != nil {
		c.t.Fatal(err)
	}
	return l
}

func (c *cli) auditKinds(stackName string) []string {
	c.t.Helper()
	var l history.AuditLog
	if err := json.Unmarshal([]byte(c.mustRun("", "history", stackName, "--audit", "-o", "json", "--limit", "0")), &l); err != nil {
		c.t.Fatal(err)
	}
	var kinds []string
	for _, e := range l.Events {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

func configMapValues(t *testing.T, ns, stackName string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, data := range liveConfigMaps(t, ns, stackName) {
		out[name] = data["v"]
	}
	return out
}

// TestCLIRestoreAndHold: restore with --at from history, the hold that
// follows (shown in history and plans, refusing the old HEAD), a newer
// commit lifting it, resume lifting it, and show, diff and gc around them.
func TestCLIRestoreAndHold(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	c := newCLI(t, env.DB.NewDatabase(t))
	c.write("gantry.yaml", stackConfig("hold", repo.Dir, ns))
	values := func() map[string]string { return configMapValues(t, ns, "hold") }

	repo.Commit("v1", map[string]string{"deploy/cms.yaml": configMapDoc("a", "1") + configMapDoc("b", "1")})
	c.mustRun("", "apply", "--auto-approve", "--actor", "ci")
	repo.Commit("v2", map[string]string{"deploy/cms.yaml": configMapDoc("a", "2") + configMapDoc("c", "2")})
	c.mustRun("", "apply", "--auto-approve", "--actor", "ci")
	l := c.historyOf("hold")
	if len(l.Applies) != 2 || l.Applies[0].Revision != 2 || l.Applies[1].Revision != 1 || l.Hold != nil {
		t.Fatalf("history after two applies: %+v", l)
	}
	first := l.Applies[1]

	// show and diff read the record.
	if out := c.mustRun("", "show", "hold@1", "-o", "yaml"); !strings.Contains(out, "name: a") || !strings.Contains(out, "v: \"1\"") || strings.Contains(out, "name: c") {
		t.Errorf("show hold@1 -o yaml:\n%s", out)
	}
	if out := c.mustRun("", "show", first.PlanID[:8]); !strings.Contains(out, "Plan: 2 to add, 0 to change, 0 to destroy.") {
		t.Errorf("show of the first plan by a prefix of its ID:\n%s", out)
	}
	diff := c.mustRun("", "diff", "hold", "1", "2")
	for _, want := range []string{"ConfigMap/" + ns + "/c was added", "ConfigMap/" + ns + "/b was removed", "ConfigMap/" + ns + "/a changed", "Diff: 1 added, 1 changed, 1 removed, 0 unchanged."} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff hold 1 2 lacks %q:\n%s", want, diff)
		}
	}

	// Restore to the moment revision 1 was applied: answered no, nothing happens.
	at := first.AppliedAt.Format(time.RFC3339Nano)
	out, _, code := c.runIn("no\n", "restore", "hold", "--at", at, "--actor", "oncall")
	if code != 1 || !strings.Contains(out, "Restoring stack hold to revision 1") || !strings.Contains(out, "Apply cancelled.") {
		t.Fatalf("restore answered no: exit %d\n%s", code, out)
	}
	if diff := cmp.Diff(map[string]string{"a": "2", "c": "2"}, values()); diff != "" {
		t.Errorf("a cancelled restore changed the cluster (-want +got)\n%s", diff)
	}
	out = c.mustRun("yes\n", "restore", "hold", "--at", at, "--actor", "oncall")
	if !strings.Contains(out, "Plan: 1 to add, 1 to change, 1 to destroy.") || !strings.Contains(out, "Apply complete! Resources: 1 added, 1 changed, 1 destroyed.") {
		t.Errorf("restore output:\n%s", out)
	}
	if diff := cmp.Diff(map[string]string{"a": "1", "b": "1"}, values()); diff != "" {
		t.Errorf("after the restore (-want +got)\n%s", diff)
	}

	// Held: history says so, plans warn, applying the old HEAD is refused.
	l = c.historyOf("hold")
	// (Revision 3 is the restore plan answered no: recorded, never applied.)
	if l.Hold == nil || l.Hold.Revision != 4 || l.Hold.By != "oncall" || !l.Applies[0].Held || l.Applies[0].RestoredFrom != 1 || l.Applies[0].Revision != 4 {
		t.Fatalf("history after the restore: %+v", l)
	}
	table := c.mustRun("", "history", "hold")
	for _, want := range []string{"Stack hold is held at revision 4", "gantry resume hold", "succeeded, held"} {
		if !strings.Contains(table, want) {
			t.Errorf("history table lacks %q:\n%s", want, table)
		}
	}
	if out := c.mustRun("", "plan"); !strings.Contains(out, "Warning:") || !strings.Contains(out, "stack hold is held") {
		t.Errorf("a plan of the held stack does not warn:\n%s", out)
	}
	_, errOut, code := c.run("apply", "--auto-approve")
	if code != 1 || !strings.Contains(errOut, "stack is held after a restore") || !strings.Contains(errOut, "is the commit the restore replaced") || !strings.Contains(errOut, "gantry resume hold") {
		t.Errorf("apply of the old HEAD while held: exit %d: %s", code, errOut)
	}
	if diff := cmp.Diff(map[string]string{"a": "1", "b": "1"}, values()); diff != "" {
		t.Errorf("the refused apply changed the cluster (-want +got)\n%s", diff)
	}

	// A newer commit lifts the hold.
	repo.Commit("v3", map[string]string{"deploy/cms.yaml": configMapDoc("a", "3") + configMapDoc("d", "3")})
	c.mustRun("", "apply", "--auto-approve")
	if diff := cmp.Diff(map[string]string{"a": "3", "d": "3"}, values()); diff != "" {
		t.Errorf("after the newer commit (-want +got)\n%s", diff)
	}
	if l := c.historyOf("hold"); l.Hold != nil {
		t.Errorf("still held after a newer commit: %+v", l.Hold)
	}

	// Restored again (by number), then resume lifts the hold.
	c.mustRun("", "restore", "hold", "--to", "2", "--auto-approve")
	if diff := cmp.Diff(map[string]string{"a": "2", "c": "2"}, values()); diff != "" {
		t.Errorf("after restoring revision 2 (-want +got)\n%s", diff)
	}
	if _, errOut, code := c.run("apply", "--auto-approve"); code != 1 || !strings.Contains(errOut, "held") {
		t.Errorf("apply of HEAD while held again: exit %d: %s", code, errOut)
	}
	if out := c.mustRun("", "resume", "hold"); !regexp.MustCompile(`Stack hold was held at revision \d+ \(a restore of revision 2\)`).MatchString(out) {
		t.Errorf("resume:\n%s", out)
	}
	// A restore right after a resume holds against the same Git commit.
	c.mustRun("", "restore", "hold", "--to", "1", "--auto-approve")
	if out, errOut, code := c.runIn("yes\n", "apply"); code != 1 || !strings.Contains(errOut, "the commit the restore replaced") || strings.Contains(out, "Enter a value") {
		t.Errorf("apply of HEAD after resume and restore: exit %d (asked: %v): %s", code, strings.Contains(out, "Enter a value"), errOut)
	}
	c.mustRun("", "resume", "hold")
	c.mustRun("", "apply", "--auto-approve")
	if diff := cmp.Diff(map[string]string{"a": "3", "d": "3"}, values()); diff != "" {
		t.Errorf("after resume and apply (-want +got)\n%s", diff)
	}
	if out := c.mustRun("", "resume", "hold"); !strings.Contains(out, "is not held") {
		t.Errorf("resume when not held:\n%s", out)
	}

	kinds := c.auditKinds("hold")
	for _, want := range []string{"plan.created", "plan.rejected", "apply.succeeded", "stack.held", "apply.refused", "stack.resumed"} {
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("audit log lacks %s: %v", want, kinds)
		}
	}

	// gc keeps the live revision and the most recent; the audit log stays whole.
	out = c.mustRun("", "gc", "hold", "--keep", "1")
	if !strings.Contains(out, "The audit log is kept.") {
		t.Errorf("gc output:\n%s", out)
	}
	after := c.auditKinds("hold")
	if len(after) != len(kinds)+1 || after[0] != "gc" {
		t.Errorf("audit log: %d events before gc, %d after (newest %v); want one more, the gc", len(kinds), len(after), after[:1])
	}
	if _, errOut, code := c.run("restore", "hold", "--to", "1", "--auto-approve"); code != 1 || !strings.Contains(errOut, "has no revision 1") {
		t.Errorf("restore of a collected revision: exit %d: %s", code, errOut)
	}
	live := c.historyOf("hold").Applies[0]
	if out := c.mustRun("", "restore", "hold", "--to", fmt.Sprint(live.Revision), "--auto-approve"); !strings.Contains(out, "No changes.") {
		t.Errorf("restore of the live revision after gc:\n%s", out)
	}
}

// TestCLIRestoreWithoutGit: with GANTRY_SECRET_KEY, restore is exact from
// the database alone, after the repository and gantry.yaml are deleted.
func TestCLIRestoreWithoutGit(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	c := newCLI(t, env.DB.NewDatabase(t))
	c.env = append(c.env, "GANTRY_SECRET_KEY="+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	cfg := c.write("gantry.yaml", stackConfig("gitless", repo.Dir, ns))
	repo.Commit("v1", map[string]string{"deploy/app.yaml": configMapDoc("a", "1") + secretDoc("creds", "first-canary-pw")})
	c.mustRun("", "apply", "--auto-approve")
	repo.Commit("v2", map[string]string{"deploy/app.yaml": configMapDoc("a", "2") + configMapDoc("extra", "2") + secretDoc("creds", "second-canary-pw")})
	c.mustRun("", "apply", "--auto-approve")

	for _, p := range []string{repo.Dir, cfg} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	c.env = append(c.env, "XDG_CACHE_HOME="+t.TempDir()) // and no cached clone either
	// Saved with --out, applied later with gantry apply FILE.
	out, errOut, code := c.run("restore", "gitless", "--to", "1", "--out", "restore.plan")
	if code != 0 || !strings.Contains(out, "Plan: 0 to add, 2 to change, 1 to destroy.") {
		t.Fatalf("restore without Git: exit %d\n%s\n%s", code, out, errOut)
	}
	if info, err := os.Stat(filepath.Join(c.dir, "restore.plan")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("restore --out: %v, %v; want a file of mode 0600", info, err)
	}
	if diff := cmp.Diff(map[string]string{"a": "2", "extra": "2"}, configMapValues(t, ns, "gitless")); diff != "" {
		t.Errorf("restore --out changed the cluster (-want +got)\n%s", diff)
	}
	applied := c.mustRun("", "apply", "restore.plan")
	out += applied
	if !strings.Contains(applied, "Apply complete! Resources: 0 added, 2 changed, 1 destroyed.") {
		t.Errorf("apply of the restore plan:\n%s", applied)
	}
	if l := c.historyOf("gitless"); l.Hold == nil || l.Applies[0].RestoredFrom != 1 {
		t.Errorf("after applying the saved restore plan: %+v", l)
	}
	for _, leak := range []string{"first-canary-pw", "second-canary-pw", base64.StdEncoding.EncodeToString([]byte("first-canary-pw"))} {
		if strings.Contains(out+errOut, leak) {
			t.Errorf("restore output shows a Secret value")
		}
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, configMapValues(t, ns, "gitless")); diff != "" {
		t.Errorf("restored ConfigMaps (-want +got)\n%s", diff)
	}
	secret, err := env.Clientset(t).CoreV1().Secrets(ns).Get(context.Background(), "creds", metav1.GetOptions{})
	if err != nil || string(secret.Data["password"]) != "first-canary-pw" {
		t.Errorf("restored Secret: %v %q, want the first password", err, secret.Data["password"])
	}
}

// TestCLIRestoreSecretsWithoutKey: without GANTRY_SECRET_KEY only salted
// hashes were stored, so restore renders the commit again and proves every
// value; when Git cannot provide it, it names the Secrets and applies nothing.
func TestCLIRestoreSecretsWithoutKey(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	c := newCLI(t, env.DB.NewDatabase(t))
	c.write("gantry.yaml", stackConfig("hashed", repo.Dir, ns))
	repo.Commit("v1", map[string]string{"deploy/app.yaml": configMapDoc("a", "1") + secretDoc("creds", "hashed-canary-1")})
	c.mustRun("", "apply", "--auto-approve")
	repo.Commit("v2", map[string]string{"deploy/app.yaml": configMapDoc("a", "2") + secretDoc("creds", "hashed-canary-2")})
	c.mustRun("", "apply", "--auto-approve")
	password := func() string {
		s, err := env.Clientset(t).CoreV1().Secrets(ns).Get(context.Background(), "creds", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Data["password"])
	}

	out, errOut, code := c.run("restore", "hashed", "--to", "1", "--auto-approve")
	if code != 0 || password() != "hashed-canary-1" {
		t.Fatalf("restore re-rendering from Git: exit %d, password %q\n%s\n%s", code, password(), out, errOut)
	}
	if strings.Contains(out+errOut, "hashed-canary") {
		t.Error("restore output shows a Secret value")
	}
	c.mustRun("", "resume", "hashed")
	c.mustRun("", "apply", "--auto-approve")
	applies := len(c.historyOf("hashed").Applies)

	if err := os.RemoveAll(repo.Dir); err != nil {
		t.Fatal(err)
	}
	c.env = append(c.env, "XDG_CACHE_HOME="+t.TempDir())
	_, errOut, code = c.run("restore", "hashed", "--to", "1", "--auto-approve")
	for _, want := range []string{"Secret/" + ns + "/creds", "salted hashes", "GANTRY_SECRET_KEY", "nothing was applied", repo.Dir} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("restore without Git or key: exit %d, error lacks %q:\n%s", code, want, errOut)
		}
	}
	if password() != "hashed-canary-2" || len(c.historyOf("hashed").Applies) != applies {
		t.Error("the failed restore changed something")
	}
}

// TestCLIRestoreBadInput: each mistake gets an error that says what is
// wrong and what to do, and nothing is applied.
func TestCLIRestoreBadInput(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	c := newCLI(t, env.DB.NewDatabase(t))
	c.write("gantry.yaml", stackConfig("bad", repo.Dir, ns))
	repo.Commit("v1", map[string]string{"deploy/cms.yaml": configMapDoc("a", "1")})
	c.mustRun("", "apply", "--auto-approve")
	repo.Commit("v2", map[string]string{"deploy/cms.yaml": configMapDoc("a", "2")})
	c.mustRun("", "plan") // records revision 2, never applied

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"restore", "nope", "--to", "1"}, `no stack "nope"`},
		{[]string{"restore", "bad", "--to", "9"}, "stack bad has no revision 9 (see gantry history bad)"},
		{[]string{"restore", "bad", "--to", "2"}, "revision 2 of stack bad was never applied successfully"},
		{[]string{"restore", "bad", "--to", "latest"}, "give its number"},
		{[]string{"restore", "bad", "--at", "2001-01-01 00:00:00"}, "nothing of stack bad was live at 2001-01-01T00:00:00Z: its first apply completed at"},
		{[]string{"restore", "bad", "--at", "2999-01-01 00:00:00"}, "is in the future"},
		{[]string{"restore", "bad", "--at", "yesterday"}, `"yesterday" is not a time`},
		{[]string{"restore", "bad", "--to", "1", "--at", "-1h"}, "not both"},
		{[]string{"restore", "bad"}, "say what to restore"},
		{[]string{"history", "nope"}, `no stack "nope"`},
		{[]string{"show", "bad@9"}, "has no revision 9"},
		{[]string{"show", "feedbeef"}, "no plan feedbeef"},
		{[]string{"diff", "bad", "1", "9"}, "has no revision 9"},
		{[]string{"gc", "bad"}, "say what to keep"},
		{[]string{"gc", "bad", "--older-than", "soon"}, "is not a duration"},
		{[]string{"resume", "nope"}, `no stack "nope"`},
	} {
		out, errOut, code := c.run(append(tc.args, "--auto-approve")...)
		if tc.args[0] != "restore" {
			out, errOut, code = c.run(tc.args...)
		}
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("gantry %s: exit %d, stderr %q; want %q\n%s", strings.Join(tc.args, " "), code, errOut, tc.want, out)
		}
	}
	if l := c.historyOf("bad"); len(l.Applies) != 1 || l.Hold != nil {
		t.Errorf("bad input applied something: %+v", l)
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, configMapValues(t, ns, "bad")); diff != "" {
		t.Errorf("bad input changed the cluster (-want +got)\n%s", diff)
	}
}

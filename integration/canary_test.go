package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/githubtest"
)

// TestSecretCanarySweep puts canaries in a Secret's data, stringData, its
// last-applied-configuration and kapp original annotations, and an
// annotation of its own that quotes a value, and a ConfigMap field that
// gantry.yaml declares sensitive, runs everything gantry does
// with it — plan in every format, apply, a rotation applied by gantry run,
// history, the audit log, show, diff, restore, a pull-request review — with
// logs at trace level, then searches every output, every log line, every
// comment sent to GitHub and pg_dumps of the whole database (plain SQL and
// custom format) for each canary and its base64 as it sits in data, each
// as written, in hex (lower and upper case) and in base64 (both alphabets,
// padded or not, at each byte offset within a longer string): no hit.
func TestSecretCanarySweep(t *testing.T) {
	t.Parallel()
	const (
		inData       = "canary-data-5b8e2f"
		inStringData = "canary-stringdata-a41c07"
		inLastApply  = "canary-lastapplied-e93d11"
		inKapp       = "canary-kapp-original-4c19e0"
		rotated      = "canary-rotated-77c2ab"
		inDeclared   = "canary-declared-3e7a90" // a ConfigMap field gantry.yaml declares sensitive
		declaredRot  = "canary-declared-rot-19bd4f"
	)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	canaries := []string{inData, inStringData, inLastApply, inKapp, rotated, inDeclared, declaredRot}
	app := func(password string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {password: " + password + ", mode: visible}\n"
	}
	secret := func(stringData string) string {
		copyOf := func(value string) string {
			c, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db"},
				"data": map[string]string{"token": b64(value)}})
			if err != nil {
				t.Fatal(err)
			}
			return string(c)
		}
		return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: %q\n    kapp.k14s.io/original: %q\n    example.com/note: %q\ndata: {token: %s}\nstringData: {password: %s}\n",
			copyOf(inLastApply), copyOf(inKapp), "the password is "+stringData, b64(inData), stringData)
	}
	ns := env.Namespace(t)
	repo := harness.NewServedRepo(t, map[string]string{"deploy/secret.yaml": secret(inStringData), "deploy/cms.yaml": configMapDoc("settings", "1"), "deploy/app.yaml": app(inDeclared)})
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	key := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	gh := githubtest.NewServer(t, "acme", "deploy", "gh-token")
	c.env = append(c.env, "GANTRY_SECRET_KEY="+key, "GITHUB_TOKEN=gh-token")
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: sweep\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n  maxPrunePercent: 100\n  sensitive: [{kind: ConfigMap, name: app, fields: [data.password]}]\n", repo.URL, ns))

	var seen strings.Builder
	run := func(args ...string) string {
		t.Helper()
		args = append(args, "--log-level", "trace")
		out, errOut, code := c.run(args...)
		seen.WriteString(out)
		seen.WriteString(errOut)
		if code != 0 && code != 2 {
			t.Fatalf("gantry %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	run("plan")
	js := run("plan", "-o", "json")
	run("plan", "-o", "markdown")
	run("apply", "--auto-approve", "--wait=false")
	planID := regexp.MustCompile(`"id": "([0-9a-f-]{36})"`).FindStringSubmatch(js)

	// A rotation, applied by the engine, with JSON logs.
	sha := repo.Push("rotate", map[string]string{"deploy/secret.yaml": secret(rotated), "deploy/app.yaml": app(declaredRot)})
	run("run", "--once", "--log-format", "json")
	run("history", "sweep")
	run("history", "sweep", "--audit")
	if planID != nil {
		for _, o := range []string{"text", "json", "markdown"} {
			run("show", planID[1], "-o", o)
		}
	}
	for _, o := range []string{"text", "yaml", "json"} {
		run("show", "sweep@1", "-o", o)
	}
	run("diff", "sweep", "1", "2")
	run("restore", "sweep", "--to", "1", "--auto-approve", "--wait=false")
	run("resume", "sweep")

	// A pull request that rotates the Secret again, reviewed on GitHub.
	repo.Git("checkout", "-q", "-b", "pr")
	prSHA := repo.Push("pr rotation", map[string]string{"deploy/secret.yaml": secret(inStringData + "-pr"), "deploy/app.yaml": app(inDeclared + "-pr")})
	gh.AddPR(githubtest.PR{Number: 3, HeadSHA: prSHA, HeadRef: "pr", HeadRepo: "acme/deploy", HeadCloneURL: repo.URL, BaseRef: "main"})
	run("review", "github", "--repo", "acme/deploy", "--pr", "3", "--stack", "sweep", "--api-url", gh.URL)
	for _, cm := range gh.Comments(3) {
		seen.WriteString(cm.Body)
	}
	_ = sha

	dump, err := exec.Command("pg_dump", "--data-only", "--inserts", "-d", dsn).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, dump)
	}
	if !strings.Contains(string(dump), "INSERT INTO public.objects") || !strings.Contains(string(dump), "INSERT INTO public.audit_events") {
		t.Fatalf("the dump holds no objects or audit events: is it the right database?\n%.500s", dump)
	}
	// The custom format, uncompressed so that a value in it would show.
	custom, err := exec.Command("pg_dump", "--format=custom", "--compress=0", "-d", dsn).Output()
	if err != nil || !bytes.Contains(custom, []byte("audit_events")) {
		t.Fatalf("pg_dump --format=custom: %v (%d bytes)", err, len(custom))
	}
	for _, where := range []struct {
		name, text string
	}{{"outputs and logs", seen.String()}, {"the database (pg_dump)", string(dump)}, {"the database (pg_dump --format=custom)", string(custom)}} {
		for _, canary := range append(canaries, inStringData+"-pr", inDeclared+"-pr") {
			// The canary itself, and its base64 as data holds it.
			for _, value := range []string{canary, b64(canary)} {
				for name, form := range leakForms(value) {
					if i := strings.Index(where.text, form); i >= 0 {
						t.Errorf("%s hold %q (%s of %q): …%q…", where.name, form, name, value, where.text[max(0, i-200):min(len(where.text), i+100)])
					}
				}
			}
		}
	}
	if seen.Len() < 10000 {
		t.Errorf("only %d bytes of output and logs were searched: the sweep saw too little", seen.Len())
	}
}

// leakForms returns the forms in which value could sit in text gantry
// wrote, by name: as written, hex in either case, and base64 in both
// alphabets, padded or not, whole or embedded in a longer encoded string at
// any byte offset (then only the characters that depend on value's bytes
// alone: those of its whole 3-byte groups).
func leakForms(value string) map[string]string {
	out := map[string]string{"plain": value, "hex": hex.EncodeToString([]byte(value)), "HEX": strings.ToUpper(hex.EncodeToString([]byte(value)))}
	for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
		out[name] = enc.EncodeToString([]byte(value))
		for offset := range 3 {
			lead := (3 - offset) % 3
			whole := (len(value) - lead) / 3 * 3
			out[fmt.Sprintf("%s at offset %d", name, offset)] = enc.WithPadding(base64.NoPadding).EncodeToString([]byte(value[lead : lead+whole]))
		}
	}
	return out
}

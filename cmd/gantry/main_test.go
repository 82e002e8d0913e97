package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/migrations"
)

// gantry runs the CLI in-process and returns stdout, stderr and the error.
func gantry(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func stackRepo(t *testing.T) (*gittest.Repo, string) {
	t.Helper()
	repo := gittest.NewRepo(t)
	sha := repo.Commit("stack", map[string]string{
		"deploy/kustomization.yaml": "namespace: shop\nresources: [ns.yaml, app.yaml]\n",
		"deploy/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
		"deploy/app.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: hunter2
`,
	})
	return repo, sha
}

func TestRenderYAML(t *testing.T) {
	t.Parallel()
	repo, sha := stackRepo(t)
	out, errOut, err := gantry(t, "render", "--repo", repo.Dir, "--ref", "main", "--path", "deploy", "--git-cache-dir", t.TempDir())
	if err != nil {
		t.Fatalf("render: %v\n%s", err, errOut)
	}
	docs := strings.Split(out, "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("got %d documents, want 3:\n%s", len(docs), out)
	}
	var kinds []string
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("output is not YAML: %v\n%s", err, d)
		}
		kinds = append(kinds, m["kind"].(string)+"/"+m["metadata"].(map[string]any)["name"].(string))
	}
	if got := strings.Join(kinds, " "); got != "ConfigMap/settings Namespace/shop Secret/db" {
		t.Errorf("objects = %s", got)
	}
	if !strings.Contains(out, "namespace: shop") {
		t.Error("kustomize namespace transformer not applied")
	}
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "password: (sensitive value)") {
		t.Errorf("Secret value not masked:\n%s", out)
	}
	// No digest: a revision digest covers Secret values and is keyed with a
	// stack's key, which render (no stack, no database) does not have.
	if !strings.Contains(errOut, "Rendered 3 objects") || !strings.Contains(errOut, sha) || strings.Contains(errOut, "digest") {
		t.Errorf("summary line: %q", errOut)
	}
}

func TestRenderJSON(t *testing.T) {
	t.Parallel()
	repo, _ := stackRepo(t)
	out, _, err := gantry(t, "render", "--repo", "file://"+repo.Dir, "--ref", "main", "--path", "deploy", "-o", "json", "--git-cache-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if list.Kind != "List" || len(list.Items) != 3 || strings.Contains(out, "hunter2") {
		t.Errorf("got kind %q with %d items (secret leaked: %v)", list.Kind, len(list.Items), strings.Contains(out, "hunter2"))
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	repo, _ := stackRepo(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"render", "--ref", "main"}, "--repo and --ref are required"},
		{[]string{"render", "--repo", repo.Dir, "--ref", "nope"}, `no branch or tag named "nope"`},
		{[]string{"render", "--repo", repo.Dir, "--ref", "main", "--path", "missing"}, `path "missing" does not exist`},
		{[]string{"render", "--repo", repo.Dir, "--ref", "main", "-o", "xml"}, `--output "xml": use yaml or json`},
		{[]string{"render", "--repo", repo.Dir, "--ref", "main", "--log-level", "loud"}, `--log-level "loud"`},
	} {
		_, _, err := gantry(t, append(tc.args, "--git-cache-dir", t.TempDir())...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("gantry %s: err = %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, err := gantry(t, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version != version || !strings.HasPrefix(v.GoVersion, "go1.") {
		t.Errorf("version -o json = %q (%v)", out, err)
	}
	out, _, _ = gantry(t, "version")
	if !strings.HasPrefix(out, "gantry "+version) {
		t.Errorf("version = %q", out)
	}
}

// TestDBEmbeddedLifecycle: with no database URL, gantry starts the embedded
// Postgres on demand, reuses it, and stops it on request.
func TestDBEmbeddedLifecycle(t *testing.T) {
	dir, err := os.MkdirTemp("", "gantry-cli-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _, _ = gantry(t, "db", "stop"); os.RemoveAll(dir) })
	t.Setenv("GANTRY_POSTGRES_DIR", dir)
	t.Setenv("GANTRY_DATABASE_URL", "")

	out, _, err := gantry(t, "db", "status")
	if err != nil || !strings.Contains(out, "stopped") {
		t.Fatalf("status before start: %q, %v", out, err)
	}
	out, _, err = gantry(t, "db", "start")
	if err != nil {
		t.Fatalf("db start: %v", err)
	}
	latest, err := migrations.Latest()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"embedded Postgres in " + dir, fmt.Sprintf("Schema version: %d", latest), "Server pid:"} {
		if !strings.Contains(out, want) {
			t.Errorf("db start output %q lacks %q", out, want)
		}
	}
	out, _, err = gantry(t, "db", "status")
	if err != nil || !strings.Contains(out, "running") {
		t.Errorf("status after start: %q, %v", out, err)
	}
	out, _, err = gantry(t, "db", "stop")
	if err != nil || !strings.Contains(out, "Stopped embedded Postgres") {
		t.Errorf("db stop: %q, %v", out, err)
	}
	out, _, _ = gantry(t, "db", "status")
	if !strings.Contains(out, "stopped") {
		t.Errorf("status after stop: %q", out)
	}

	t.Setenv("GANTRY_DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/x")
	out, _, err = gantry(t, "db", "status")
	if err != nil || strings.Contains(out, "hunter2") || !strings.Contains(out, "external") {
		t.Errorf("status with an external URL: %q, %v", out, err)
	}
	if _, _, err := gantry(t, "db", "stop"); err == nil {
		t.Error("db stop with an external database succeeded")
	}
}

// TestRenderBudgetFlag renders a kustomization reading 1.2 MB with
// --max-render-bytes 1Mi: refused, naming the file, the limit and the flag.
func TestRenderBudgetFlag(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t)
	value := strings.Repeat("x", 600<<10)
	repo.Commit("big", map[string]string{
		"app/kustomization.yaml": "configMapGenerator:\n- name: big\n  files: [a.txt, b.txt]\n",
		"app/a.txt":              value,
		"app/b.txt":              value + "y",
	})
	args := []string{"render", "--repo", repo.Dir, "--ref", "main", "--path", "app", "--git-cache-dir", t.TempDir()}
	_, _, err := gantry(t, append(args, "--max-render-bytes", "1Mi")...)
	if err == nil || !strings.Contains(err.Error(), "app/b.txt") || !strings.Contains(err.Error(), "1048576") || !strings.Contains(err.Error(), "--max-render-bytes") {
		t.Errorf("err = %v, want a refusal naming app/b.txt, the limit and the flag", err)
	}
	if _, _, err := gantry(t, append(args, "--max-render-bytes", "2Mi")...); err != nil {
		t.Errorf("with 2Mi: %v", err)
	}
	if _, _, err := gantry(t, append(args, "--max-render-bytes", "lots")...); err == nil || !strings.Contains(err.Error(), "--max-render-bytes") {
		t.Errorf("a bad size: err = %v", err)
	}
}

// TestTerminalSafe: what main prints of an error cannot drive the terminal;
// line breaks (errors.Join) and tabs stay.
func TestTerminalSafe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plain error", "plain error"},
		{"two\nlines\tand a tab", "two\nlines\tand a tab"},
		{"a\x1b[2K\rPlan: 0 to add", `a\x1b[2K\rPlan: 0 to add`},
		{"bell\a and delete\x7f", `bell\a and delete\x7f`},
		{"C1 \u009b31m", `C1 \u009b31m`},
		{"reordered \u202etxt.exe", `reordered \u202etxt.exe`},
		{"ünïcode stays", "ünïcode stays"},
	} {
		if got := terminalSafe(tc.in); got != tc.want {
			t.Errorf("terminalSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestErrorsNameHostileFilesSafely: a file of the repository whose name
// holds an escape sequence, and fails to parse, is named in the error as
// text the terminal shows, not runs.
func TestErrorsNameHostileFilesSafely(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t)
	repo.Commit("hostile", map[string]string{"deploy/a\x1b[2K\x1b[1Ab.yaml": "kind: [unclosed\n"})
	_, _, err := gantry(t, "render", "--repo", repo.Dir, "--ref", "main", "--path", "deploy", "--git-cache-dir", t.TempDir())
	if err == nil {
		t.Fatal("a file that does not parse rendered")
	}
	shown := terminalSafe(err.Error())
	if strings.ContainsRune(shown, '\x1b') || !strings.Contains(shown, `deploy/a\x1b[2K\x1b[1Ab.yaml`) {
		t.Errorf("the error as printed is %q: want the file named with its escape sequences quoted", shown)
	}
}

func TestAdHocFlagProblem(t *testing.T) {
	rows := []struct {
		flags string // changed flags, space-separated
		want  string // part of the problem, "" for none
	}{
		{"repo ref path", ""},
		{"repo ref allow-insecure-http-credentials", ""},
		{"chart-repo chart chart-version", ""},
		{"artifact path artifact-semver", ""},
		{"artifact path namespace stack", ""},
		{"repo artifact", "an ad hoc stack takes one source: --repo, --artifact were given"},
		{"artifact ref", "--ref applies to a stack from --repo, not from --artifact"},
		{"artifact chart", "--chart applies to a stack from --chart-repo, not from --artifact"},
		{"repo artifact-semver", "--artifact-semver applies to a stack from --artifact, not from --repo"},
		{"chart-repo chart chart-version ref", "--ref applies to a stack from --repo, not from --chart-repo"},
		{"chart-repo chart chart-version path", "--path does not apply to a chart"},
	}
	for _, row := range rows {
		changed := map[string]bool{}
		for _, f := range strings.Fields(row.flags) {
			changed[f] = true
		}
		got := adHocFlagProblem(changed)
		if (row.want == "") != (got == "") || !strings.Contains(got, row.want) {
			t.Errorf("%s: %q, want %q", row.flags, got, row.want)
		}
	}
}

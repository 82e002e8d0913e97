package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

// cli runs the gantry binary against the shared control plane and dsn.
type cli struct {
	t     *testing.T
	bin   string
	env   []string
	dir   string
	stdin string
}

func newCLI(t *testing.T, dsn string) *cli {
	return &cli{t: t, bin: env.Gantry(t), dir: t.TempDir(), env: append(os.Environ(),
		"KUBECONFIG="+env.Cluster.Kubeconfig, "GANTRY_DATABASE_URL="+dsn, "XDG_CACHE_HOME="+t.TempDir(), "NO_COLOR=")}
}

// run returns stdout, stderr and the exit code.
func (c *cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	cmd.Stdin = strings.NewReader(c.stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return out.String(), errOut.String(), exit.ExitCode()
	case err != nil:
		c.t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

func (c *cli) write(name, content string) string {
	c.t.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func TestCLIPlan(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	repo.Commit("shop", map[string]string{
		"deploy/kustomization.yaml": "resources: [cm.yaml]\n",
		"deploy/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: blue}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata: {beta: \"true\"}\n",
	})
	dsn := env.DB.NewDatabase(t)
	c := newCLI(t, dsn)
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: shop\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n", repo.Dir, ns))

	out, errOut, code := c.run("plan", "--stack", "shop")
	if code != 0 {
		t.Fatalf("gantry plan: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"# ConfigMap/" + ns + "/settings will be created", "+ ConfigMap/" + ns + "/flags", "Plan: 2 to add, 0 to change, 0 to destroy."} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour escapes in output that is not a terminal")
	}
	if !strings.Contains(errOut, "2 dry-run") || !strings.Contains(errOut, "API requests") {
		t.Errorf("stats line on stderr: %q", errOut)
	}
	if _, _, code := c.run("plan", "--stack", "shop", "--detailed-exitcode"); code != 2 {
		t.Errorf("--detailed-exitcode with changes: exit %d, want 2", code)
	}

	js, _, code := c.run("plan", "-o", "json")
	var parsed struct {
		FormatVersion int               `json:"format_version"`
		Summary       struct{ Add int } `json:"summary"`
	}
	if err := json.Unmarshal([]byte(js), &parsed); err != nil || code != 0 || parsed.FormatVersion != plan.FormatVersion || parsed.Summary.Add != 2 {
		t.Errorf("-o json: exit %d, %+v, %v", code, parsed, err)
	}
	md, _, _ := c.run("plan", "-o", "markdown")
	if !strings.Contains(md, "### gantry plan: `shop`") || !strings.Contains(md, "| `+` | `ConfigMap/"+ns+"/flags` | create |") {
		t.Errorf("-o markdown:\n%s", md)
	}

	// A saved plan: private, shown identically, refused when edited.
	text, _, _ := c.run("plan", "--out", "shop.plan")
	info, err := os.Stat(filepath.Join(c.dir, "shop.plan"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("planfile: %v, mode %v; want 0600", err, info)
	}
	shown, errOut, code := c.run("show", "shop.plan")
	if code != 0 || shown != text {
		t.Errorf("gantry show differs from the plan it saved (exit %d, %s):\n%s\n---\n%s", code, errOut, shown, text)
	}
	saved, _ := os.ReadFile(filepath.Join(c.dir, "shop.plan"))
	c.write("edited.plan", strings.Replace(string(saved), `"color": "blue"`, `"color": "red"`, 1))
	if _, errOut, code := c.run("apply", "edited.plan"); code != 1 || !strings.Contains(errOut, "does not match its digest") {
		t.Errorf("edited planfile: exit %d, %s", code, errOut)
	}
	c.write("future.plan", strings.Replace(string(saved), `"format_version": 1`, `"format_version": 99`, 1))
	if _, errOut, code := c.run("show", "future.plan"); code != 1 || !strings.Contains(errOut, "format version 99 is not supported") {
		t.Errorf("future planfile: exit %d, %s", code, errOut)
	}

	// Applied (by the test stand-in for gantry apply), the next plan is empty.
	f, err := os.Open(filepath.Join(c.dir, "shop.plan"))
	if err != nil {
		t.Fatal(err)
	}
	applier := env.NewStackOn(t, stack.Stack{Name: "shop"}, dsn)
	p, err := applier.Engine.ReadPlanfile(context.Background(), f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	applier.Apply(t, p)
	out, _, code = c.run("plan", "--detailed-exitcode")
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Errorf("after apply: exit %d, want 0 and No changes:\n%s", code, out)
	}
}

func TestCLIPlanAdHoc(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	repo.Commit("app", map[string]string{"manifests/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: adhoc}\n"})
	c := newCLI(t, env.DB.NewDatabase(t))
	out, errOut, code := c.run("plan", "--repo", repo.Dir, "--ref", "main", "--path", "manifests", "--namespace", ns, "-o", "json")
	if code != 0 {
		t.Fatalf("ad hoc plan: exit %d: %s", code, errOut)
	}
	var p struct {
		Stack   string `json:"stack"`
		Changes []struct {
			Ref    struct{ Namespace, Name string } `json:"ref"`
			Action string                           `json:"action"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if p.Stack != "manifests" || len(p.Changes) != 1 || p.Changes[0].Ref.Namespace != ns || p.Changes[0].Action != "create" {
		t.Errorf("ad hoc plan: %+v", p)
	}
}

func TestCLIPlanErrors(t *testing.T) {
	t.Parallel()
	c := newCLI(t, env.DB.NewDatabase(t))
	c.write("gantry.yaml", "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: a\n  source: {repo: .}\n- name: b\n  source: {repo: .}\n")
	c.write("bad.yaml", "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: a\n  source: {repo: .}\n  pruen: true\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan"}, "declares 2 stacks (a, b): choose one with --stack"},
		{[]string{"plan", "--stack", "c"}, `no stack "c" in gantry.yaml (it declares: a, b)`},
		{[]string{"plan", "--stack", "a", "--namespace", "x"}, "--namespace applies to ad hoc stacks"},
		{[]string{"plan", "--stack", "a", "--diff", "psychic"}, `--diff "psychic": use auto or server or local`},
		{[]string{"plan", "--config", "bad.yaml"}, "bad.yaml:6: stacks[0].pruen: unknown field"},
		{[]string{"plan", "--config", "missing.yaml"}, "pass --config, or create gantry.yaml"},
		{[]string{"show", "missing.plan"}, "missing.plan"},
	} {
		_, errOut, code := c.run(tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("gantry %s: exit %d, stderr %q; want 1 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

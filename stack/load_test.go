package stack_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/stack"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "gantry.yaml")
	err := os.WriteFile(path, []byte(`apiVersion: gantry.dev/v1alpha1
kind: Config
stacks:
  - name: shop
    source:
      repo: ./deploy-repo
      ref: v1.2.0
      path: overlays/prod
    target:
      namespace: shop
    prune: false
    maxPrunePercent: 50
    allowEmpty: true
    forceConflicts: true
    approval: manual
    schedule:
      interval: 1m
      jitter: 5s
  - name: infra
    source:
      repo: https://github.com/acme/infra.git
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []stack.Stack{
		{
			Name:   "shop",
			Source: stack.Source{Repo: filepath.Join(dir, "deploy-repo"), Ref: "v1.2.0", Path: "overlays/prod"},
			Target: stack.Target{Namespace: "shop"}, Prune: false, MaxPrunePercent: 50, AllowEmpty: true,
			ForceConflicts: true, Approval: stack.ApprovalManual,
			Schedule: stack.Schedule{Interval: time.Minute, Jitter: 5 * time.Second},
		},
		{
			// Every default.
			Name:   "infra",
			Source: stack.Source{Repo: "https://github.com/acme/infra.git", Ref: "HEAD", Path: "."},
			Prune:  true, MaxPrunePercent: 25, Approval: stack.ApprovalAutoUnlessDestructive,
			Schedule: stack.Schedule{Interval: 5 * time.Minute, Jitter: 30 * time.Second},
		},
	}
	if diff := cmp.Diff(want, cfg.Stacks); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if s, ok := cfg.Find("infra"); !ok || s.Name != "infra" {
		t.Errorf("Find(infra) = %v, %v", s, ok)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	head := "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown stack field", head + "  - name: a\n    source: {repo: r}\n    prun: true\n",
			[]string{"gantry.yaml:6: stacks[0].prun: unknown field", "known fields here: allowEmpty, approval"}},
		{"unknown source field", head + "  - name: a\n    source: {repo: r, branch: main}\n",
			[]string{"gantry.yaml:5: stacks[0].source.branch: unknown field", "ref"}},
		{"bad approval", head + "  - name: a\n    source: {repo: r}\n    approval: sometimes\n",
			[]string{"gantry.yaml:6: stacks[0].approval", `"sometimes" is not a policy`, "auto-unless-destructive"}},
		{"percent out of range", head + "  - name: a\n    source: {repo: r}\n    maxPrunePercent: 150\n",
			[]string{"gantry.yaml:6: stacks[0].maxPrunePercent: 150 is out of range: use 0 to 100"}},
		{"bool as string", head + "  - name: a\n    source: {repo: r}\n    prune: \"yes\"\n",
			[]string{"stacks[0].prune: expected true or false", `the string "yes"`}},
		{"bad duration", head + "  - name: a\n    source: {repo: r}\n    schedule: {interval: soon}\n",
			[]string{"stacks[0].schedule.interval", `"soon" is not a duration`}},
		{"too frequent", head + "  - name: a\n    source: {repo: r}\n    schedule: {interval: 1s}\n",
			[]string{"stacks[0].schedule.interval: 1s is too short"}},
		{"jitter not shorter", head + "  - name: a\n    source: {repo: r}\n    schedule: {interval: 1m, jitter: 2m}\n",
			[]string{"stacks[0].schedule.jitter: 2m0s must be shorter"}},
		{"bad name", head + "  - name: Shop_1\n    source: {repo: r}\n",
			[]string{"gantry.yaml:4: stacks[0].name", "not a valid stack name"}},
		{"missing name and source", head + "  - prune: true\n",
			[]string{"stacks[0].name: missing", "stacks[0].source: missing"}},
		{"missing repo", head + "  - name: a\n    source: {ref: main}\n",
			[]string{"stacks[0].source.repo: missing"}},
		{"path escapes", head + "  - name: a\n    source: {repo: r, path: ../x}\n",
			[]string{"stacks[0].source.path", "stay inside"}},
		{"duplicate names", head + "  - name: a\n    source: {repo: r}\n  - name: a\n    source: {repo: s}\n",
			[]string{`stacks[1].name: "a" is already the name of stacks[0]`}},
		{"field set twice", head + "  - name: a\n    name: b\n    source: {repo: r}\n",
			[]string{"gantry.yaml:5: stacks[0].name: set twice"}},
		{"wrong apiVersion", "apiVersion: v1\nkind: Config\nstacks: []\n",
			[]string{"gantry.yaml:1: apiVersion", "use gantry.dev/v1alpha1"}},
		{"missing kind", "apiVersion: gantry.dev/v1alpha1\nstacks: []\n",
			[]string{"kind: missing"}},
		{"stacks not a list", "apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks: {a: b}\n",
			[]string{"gantry.yaml:3: stacks: expected a list, found a mapping"}},
		{"invalid YAML", "apiVersion: [\n", []string{"gantry.yaml: invalid YAML"}},
		{"several errors at once", head + "  - name: a\n    source: {repo: r}\n    prune: 3\n    approval: never\n",
			[]string{"stacks[0].prune", "stacks[0].approval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stack.Parse("gantry.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := stack.Load(filepath.Join(t.TempDir(), "gantry.yaml"))
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("err = %v, want one saying how to fix it", err)
	}
}

func TestAdHoc(t *testing.T) {
	t.Parallel()
	s, err := stack.AdHoc("web", stack.Source{Repo: `/repos/a "quoted" dir\with\backslashes`, Path: "deploy"}, "shop", true)
	if err != nil {
		t.Fatal(err)
	}
	want := stack.Stack{
		Name:   "web",
		Source: stack.Source{Repo: `/repos/a "quoted" dir\with\backslashes`, Ref: "HEAD", Path: "deploy"},
		Target: stack.Target{Namespace: "shop"}, Prune: true, MaxPrunePercent: 25, ForceConflicts: true,
		Approval: stack.ApprovalAutoUnlessDestructive, Schedule: stack.Schedule{Interval: 5 * time.Minute, Jitter: 30 * time.Second},
	}
	if diff := cmp.Diff(&want, s); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	_, err = stack.AdHoc("Bad_Name", stack.Source{Path: "../x"}, "Not Valid", false)
	for _, w := range []string{"--stack", "--path", "--namespace", "--repo"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not mention %s", err, w)
		}
	}
}

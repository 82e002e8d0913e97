package plan

import (
	"fmt"
	"testing"

	"github.com/gantryops/gantry/internal/objtest"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestKnownFailures(t *testing.T) {
	t.Parallel()
	ref := func(name string) ObjectRef { return ObjectRef{Kind: "ConfigMap", Namespace: "n", Name: name} }
	manifest := func(name string) *unstructured.Unstructured {
		return objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+name+", namespace: \"n\"}\n")
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
			[]*unstructured.Unstructured{objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: \"n\", annotations: {x: 1}}\n")}, false, []string{"invalid-manifest:a"}},
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

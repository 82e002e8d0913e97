package apply

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

func manifest(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRefusal: every plan the apply would fail on (or must not carry out)
// is refused from the plan alone, before any write, saying why and what to
// do; a plan without such changes is not.
func TestRefusal(t *testing.T) {
	t.Parallel()
	cm := func(name string) *unstructured.Unstructured {
		return manifest(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+name+", namespace: shop, labels: {gantry.dev/stack: b}}\n")
	}
	ref := func(name string) object.Ref { return object.Ref{Kind: "ConfigMap", Namespace: "shop", Name: name} }
	change := func(name string, action plan.Action) plan.Change {
		return plan.Change{Ref: ref(name), APIVersion: "v1", Action: action}
	}
	base := func(changes ...plan.Change) *plan.Plan {
		return &plan.Plan{Stack: "b", Mode: plan.DiffAuto, Desired: []*unstructured.Unstructured{cm("a"), cm("shared"), cm("c")}, Changes: changes}
	}
	owned := change("shared", plan.ActionUpdate)
	owned.Owner = "a"
	conflicted := change("c", plan.ActionUpdate)
	conflicted.Conflicts = []plan.Conflict{{Field: ".data.k", Manager: "kubectl-edit"}}
	invalid := base(change("a", plan.ActionCreate))
	invalid.Desired[0] = manifest(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop, labels: {v: 2}}\n")

	cases := []struct {
		name     string
		plan     *plan.Plan
		approved bool
		want     error    // nil: accepted
		says     []string // in the error
	}{
		{"clean", base(change("a", plan.ActionCreate), change("c", plan.ActionUpdate)), false, nil, nil},
		{"noops only", base(change("a", plan.ActionNoop)), false, nil, nil},
		{"an object another stack owns", base(change("a", plan.ActionCreate), owned), true, ErrKnownToFail,
			[]string{"ConfigMap/shop/shared", `belongs to stack "a"`, "gantry.dev/stack label", `not "b"`, "kubectl label --overwrite configmap/shared -n shop gantry.dev/stack=b", "leaving the revision half applied"}},
		{"an owned noop is no failure", func() *plan.Plan { c := owned; c.Action = plan.ActionNoop; return base(c) }(), false, nil, nil},
		{"conflicts not forced", base(conflicted), true, ErrConflicts,
			[]string{"ConfigMap/shop/c", `.data.k (owned by "kubectl-edit")`, "forceConflicts: true"}},
		{"conflicts forced", func() *plan.Plan { p := base(conflicted); p.Options.ForceConflicts = true; return p }(), false, nil, nil},
		{"a change without its manifest", base(change("gone", plan.ActionCreate)), true, ErrKnownToFail,
			[]string{"ConfigMap/shop/gone", "no manifest", "plan again"}},
		{"a delete needs no manifest", base(change("gone", plan.ActionDelete)), false, nil, nil},
		{"an invalid manifest", invalid, true, ErrKnownToFail,
			[]string{"ConfigMap/shop/a", "metadata.labels.v must be a string"}},
		{"an unknown action", base(change("a", "recreate")), true, ErrKnownToFail,
			[]string{`action "recreate"`, "this version of gantry"}},
		{"an apiVersion that is no group/version", func() *plan.Plan { c := change("x", plan.ActionDelete); c.APIVersion = "a/b/c"; return base(c) }(), true, ErrKnownToFail,
			[]string{`apiVersion "a/b/c"`}},
		{"every failure named, in plan order", base(owned, conflicted, change("gone", plan.ActionUpdate)), true, ErrKnownToFail,
			[]string{"3 change(s) would fail", "ConfigMap/shop/shared", "ConfigMap/shop/c", "ConfigMap/shop/gone"}},
		{"approximate", func() *plan.Plan { p := base(owned); p.Mode, p.Approximate = plan.DiffLocal, true; return p }(), true, ErrApproximate, []string{"--diff=local"}},
		// The digest covers the mode, not the flag: a planfile edited to
		// drop "approximate" is still refused.
		{"approximate, its flag edited out", func() *plan.Plan { p := base(); p.Mode = plan.DiffLocal; return p }(), true, ErrApproximate, []string{"--diff=local"}},
		{"a mode gantry does not know", func() *plan.Plan { p := base(); p.Mode = "guess"; return p }(), true, ErrApproximate, []string{`"guess"`}},
		{"server mode", func() *plan.Plan { p := base(change("a", plan.ActionCreate)); p.Mode = plan.DiffServer; return p }(), false, nil, nil},
		{"destructive without approval", func() *plan.Plan {
			p := base(change("a", plan.ActionDelete))
			p.Destructive = []string{"deletes Namespace/shop"}
			return p
		}(), false, ErrNotApproved,
			[]string{"deletes Namespace/shop", "approve"}},
		{"destructive, approved", func() *plan.Plan {
			p := base(change("a", plan.ActionDelete))
			p.Destructive = []string{"deletes Namespace/shop"}
			return p
		}(), true, nil, nil},
		{"known failures before approval", func() *plan.Plan { p := base(owned); p.Destructive = []string{"deletes Namespace/shop"}; return p }(), false, ErrKnownToFail, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Refusal(tc.plan, tc.approved)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the refusal does not say %q:\n%v", s, err)
				}
			}
		})
	}
}

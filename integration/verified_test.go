package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/stack"
)

// TestPlanVerifiedAtApply: objects the server cannot dry-run yet (a custom
// resource whose CRD the plan creates, an object in a Namespace the plan
// creates) are creates marked verified at apply, showing the manifest.
func TestPlanVerifiedAtApply(t *testing.T) {
	t.Parallel()
	ns := "verified-" + strings.TrimPrefix(env.Namespace(t), "test-")
	objs := parseObjects(t,
		fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns),
		fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: inside, namespace: %s}\ndata: {visible: yes-in-plan}\n", ns),
	)
	objs = append(objs, renameGroup(testdataObjects(t, "fidelity/crd.yaml"), "fidelity.gantry.dev", "verified.gantry.dev")...)
	objs[len(objs)-1].SetNamespace(ns)
	s := env.NewStack(t, stack.Stack{Name: "verified", Prune: true})
	p := s.Plan(t, objs, plan.DiffAuto)
	want := map[string]string{
		"ConfigMap": "its Namespace " + ns + " is created by this plan",
		"Widget":    "its CustomResourceDefinition widgets.verified.gantry.dev is created by this plan",
	}
	for _, c := range p.Changes {
		if c.Action != plan.ActionCreate {
			t.Errorf("%s: %s, want create", c.Ref, c.Action)
		}
		if c.VerifiedAtApply != want[c.Ref.Kind] {
			t.Errorf("%s: verified at apply %q, want %q", c.Ref, c.VerifiedAtApply, want[c.Ref.Kind])
		}
		if c.After == nil || c.After.GetName() != c.Ref.Name || len(c.Diff) == 0 {
			t.Errorf("%s: the create shows no manifest (after %v, %d field diffs)", c.Ref, c.After, len(c.Diff))
		}
	}
	var text strings.Builder
	_ = render.Text(&text, p, render.TextOptions{})
	for _, w := range []string{"visible: yes-in-plan", "size: 3", "(verified at apply: its Namespace " + ns} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text plan lacks %q:\n%s", w, text.String())
		}
	}
}

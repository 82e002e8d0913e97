package plan_test

import (
	"strings"
	"testing"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/plantest"
)

func TestSummaryAndDestructive(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	if a, c, d := p.Summary(); a != 2 || c != 1 || d != 2 {
		t.Errorf("summary %d/%d/%d, want 2/1/2 (a replace is an add and a destroy)", a, c, d)
	}
	want := []string{"deletes Namespace/gone"}
	if strings.Join(p.Destructive, "|") != strings.Join(want, "|") {
		t.Errorf("destructive %v, want %v", p.Destructive, want)
	}
	p.Changes = append(p.Changes, plan.Change{Ref: object.Ref{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "widgets.example.com"}, Action: plan.ActionDelete},
		plan.Change{Ref: object.Ref{Kind: "PersistentVolumeClaim", Namespace: "n", Name: "data"}, Action: plan.ActionReplace},
		plan.Change{Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: "plain"}, Action: plan.ActionDelete})
	got := plan.DestructiveReasons(p, 100)
	want = []string{"deletes Namespace/gone", "deletes CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com", "replaces (deletes and recreates) PersistentVolumeClaim/n/data"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("destructive kinds: %v, want %v", got, want)
	}
	p.Changes = p.Changes[:4]
	p.Options.MaxPrunePercent = 10 // 1 of 4 is 25%
	if r := plan.DestructiveReasons(p, 4); len(r) != 2 || !strings.Contains(r[1], "deletes 1 of 4 inventory objects (25%), more than maxPrunePercent 10%") {
		t.Errorf("reasons with maxPrunePercent 10: %v", r)
	}
}

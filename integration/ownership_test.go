package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/render"
)

// TestOwnershipBetweenStacks: two stacks render the same object. The
// second's plan shows it owned by the first, and its apply is refused
// before any write with a clear error, leaving it as the first made it (and
// creating none of the second's other objects); when ownership is moved
// deliberately (relabelled), the first stack no longer prunes it.
func TestOwnershipBetweenStacks(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	first := env.NewStack(t, stackDef("owner-a", ns))
	second := env.NewStackOn(t, stackDef("owner-b", ns), first.DSN)
	shared := func(v string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {v: %q}\n", v)
	}
	ctx := context.Background()
	cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
	first.Apply(t, first.Plan(t, parseObjects(t, shared("a"), configMapDoc("only-a", "1")), plan.DiffAuto))

	p := second.Plan(t, parseObjects(t, shared("b"), configMapDoc("only-b", "1")), plan.DiffAuto)
	var owned *plan.Change
	for i, c := range p.Changes {
		if c.Ref.Name == "shared" {
			owned = &p.Changes[i]
		}
	}
	if owned == nil || owned.Owner != "owner-a" {
		t.Fatalf("the second stack's plan does not say shared belongs to owner-a: %+v", owned)
	}
	var text strings.Builder
	if err := render.Text(&text, p, render.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), `REFUSED at apply: it belongs to stack "owner-a"`) {
		t.Errorf("the text plan does not show the ownership:\n%s", text.String())
	}
	report, err := second.TryApply(p, true, harness.ApplyOptions())
	if !errors.Is(err, apply.ErrKnownToFail) || report != nil || !strings.Contains(err.Error(), `belongs to stack "owner-a"`) {
		t.Fatalf("the second stack's apply: %v, want it refused before any write for shared", err)
	}
	if _, err := cms.Get(ctx, "only-b", metav1.GetOptions{}); err == nil {
		t.Error("the refused apply created only-b: the revision was half applied")
	}
	cm, err := cms.Get(ctx, "shared", metav1.GetOptions{})
	if err != nil || cm.Data["v"] != "a" || cm.Labels["gantry.dev/stack"] != "owner-a" {
		t.Fatalf("shared after the refused apply: %v %v, want owner-a's", cm, err)
	}

	// Ownership moved on purpose: the first stack drops it and keeps it.
	cm.Labels["gantry.dev/stack"] = "owner-b"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	drop := first.Plan(t, parseObjects(t, configMapDoc("only-a", "1")), plan.DiffAuto)
	first.Apply(t, drop)
	if _, err := cms.Get(ctx, "shared", metav1.GetOptions{}); err != nil {
		t.Errorf("the first stack pruned shared after it moved to owner-b: %v", err)
	}
	second.Apply(t, second.Plan(t, parseObjects(t, shared("b"), configMapDoc("only-b", "1")), plan.DiffAuto))
	if cm, _ := cms.Get(ctx, "shared", metav1.GetOptions{}); cm.Data["v"] != "b" {
		t.Errorf("shared = %q after owner-b applied it, want b", cm.Data["v"])
	}
}

// TestAdoptIsExplicit: an object that exists without gantry's label is
// planned as an adoption, visibly, and once adopted is the stack's: in its
// inventory, pruned when no longer rendered.
func TestAdoptIsExplicit(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	def := stackDef("adopter", ns)
	// Taking over what someone made by hand takes over their fields too:
	// a conflict unless the stack forces them.
	def.MaxPrunePercent, def.ForceConflicts = 100, true
	s := env.NewStack(t, def)
	ctx := context.Background()
	cms := env.Clientset(t).CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "handmade"}, Data: map[string]string{"v": "by hand"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := s.Plan(t, cmDocs(t, "handmade", "new"), plan.DiffAuto)
	if got := fmt.Sprint(harness.Changes(p)); got != "[adopt ConfigMap/"+ns+"/handmade create ConfigMap/"+ns+"/new]" {
		t.Fatalf("plan = %s, want handmade adopted and new created", got)
	}
	var text, md strings.Builder
	_ = render.Text(&text, p, render.TextOptions{})
	_ = render.Markdown(&md, p, render.DefaultMarkdownOptions())
	if !strings.Contains(text.String(), "ConfigMap/"+ns+"/handmade will be adopted") || !strings.Contains(md.String(), "| adopt") {
		t.Errorf("the adoption is not visible:\n%s\n%s", text.String(), md.String())
	}
	if add, change, destroy := p.Summary(); add != 1 || change != 1 || destroy != 0 {
		t.Errorf("summary = +%d ~%d -%d, want the adoption counted as a change", add, change, destroy)
	}
	s.Apply(t, p)
	if got := inventoryNames(t, s); fmt.Sprint(got) != "[handmade new]" {
		t.Errorf("inventory = %v, want the adopted object in it", got)
	}
	if again := harness.Changes(s.Plan(t, cmDocs(t, "handmade", "new"), plan.DiffAuto)); len(again) != 0 {
		t.Errorf("plan after the adoption = %v, want no changes", again)
	}
	s.Apply(t, s.Plan(t, cmDocs(t, "new"), plan.DiffAuto))
	if _, err := cms.Get(ctx, "handmade", metav1.GetOptions{}); err == nil {
		t.Error("the adopted object was not pruned when the stack stopped rendering it")
	}
}

package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

// hookedChart is a chart with an object and four ConfigMap hooks: migrate
// (pre-install and pre-upgrade, kept until the next run deletes it), seed
// (post-install, deleted when it succeeds), notify (post-upgrade) and
// report (post-install and post-upgrade, named by generateName: a new
// object at each run, the last one deleted first).
func hookedChart(v string) map[string]string {
	hook := func(name, events, extra string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  annotations:\n    helm.sh/hook: " + events + "\n" + extra + "data: {v: {{ .Values.v | quote }}}\n"
	}
	return map[string]string{
		"chart/Chart.yaml":             "apiVersion: v2\nname: hooked\nversion: 0.1.0\n",
		"chart/values.yaml":            "v: \"" + v + "\"\n",
		"chart/templates/app.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {v: {{ .Values.v | quote }}}\n",
		"chart/templates/migrate.yaml": hook("migrate", "pre-install,pre-upgrade", ""),
		"chart/templates/seed.yaml":    hook("seed", "post-install", "    helm.sh/hook-delete-policy: hook-succeeded\n"),
		"chart/templates/notify.yaml":  hook("notify", "post-upgrade", ""),
		"chart/templates/report.yaml":  strings.Replace(hook("report-", "post-install,post-upgrade", ""), "  name: ", "  generateName: ", 1),
	}
}

// TestChartHooks applies a chart with hooks on the real control plane: on
// the first apply the install hooks run (pre before the chart's objects,
// post after; seed deleted once it succeeded), a plan that changes nothing
// runs none, the next change runs the upgrade hooks (migrate deleted and
// made anew with the new values), auto and server plans agree, and no hook
// is in the inventory, so none is ever pruned.
func TestChartHooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	repo.Commit("v1", hookedChart("1"))
	s := env.NewStack(t, stack.Stack{Name: "hooked", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100,
		Source: stack.Source{Repo: repo.Dir, Ref: "main", Path: "chart"}})
	runs := func(p *plan.Plan) []string {
		var out []string
		for _, c := range p.Changes {
			if c.Hook != nil {
				out = append(out, c.Ref.Name+" "+c.Hook.Event)
			}
		}
		return out
	}
	value := func(name string) string {
		t.Helper()
		u, err := s.Dynamic.Resource(configmaps).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "(absent)"
		}
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := unstructured.NestedString(u.Object, "data", "v")
		return v
	}

	reports := func() []string {
		t.Helper()
		l, err := s.Dynamic.Resource(configmaps).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range l.Items {
			if u.GetGenerateName() == "report-" {
				v, _, _ := unstructured.NestedString(u.Object, "data", "v")
				out = append(out, v)
			}
		}
		return out
	}

	install := planBoth(t, s, "install")
	if diff := cmp.Diff([]string{"migrate pre-install", "report-* post-install", "seed post-install"}, runs(install)); diff != "" {
		t.Errorf("install hooks (-want +got)\n%s", diff)
	}
	applyWaiting(t, s, install)
	got := map[string]string{"app": value("app"), "migrate": value("migrate"), "seed": value("seed"), "notify": value("notify")}
	if diff := cmp.Diff(map[string]string{"app": "1", "migrate": "1", "seed": "(absent)", "notify": "(absent)"}, got); diff != "" {
		t.Errorf("after the install (-want +got)\n%s", diff)
	}
	if got := reports(); len(got) != 1 || got[0] != "1" {
		t.Errorf("after the install, report- runs %v, want one of value 1", got)
	}
	if p := planBoth(t, s, "nothing to do"); p.HasChanges() || len(runs(p)) > 0 {
		t.Errorf("a plan that changes nothing: %v, hooks %v", harness.Changes(p), runs(p))
	}
	_, inventory, err := s.Store.Inventory(ctx, "hooked")
	if err != nil {
		t.Fatal(err)
	}
	if len(inventory) != 1 || inventory[0].Ref.Name != "app" {
		t.Errorf("inventory %v, want only app: hooks are never kept", inventory)
	}

	repo.Commit("v2", map[string]string{"chart/values.yaml": "v: \"2\"\n"})
	upgrade := planBoth(t, s, "upgrade")
	if diff := cmp.Diff([]string{"migrate pre-upgrade", "notify post-upgrade", "report-* post-upgrade"}, runs(upgrade)); diff != "" {
		t.Errorf("upgrade hooks (-want +got)\n%s", diff)
	}
	applyWaiting(t, s, upgrade)
	got = map[string]string{"app": value("app"), "migrate": value("migrate"), "seed": value("seed"), "notify": value("notify")}
	if diff := cmp.Diff(map[string]string{"app": "2", "migrate": "2", "seed": "(absent)", "notify": "2"}, got); diff != "" {
		t.Errorf("after the upgrade (-want +got)\n%s", diff)
	}
	if got := reports(); len(got) != 1 || got[0] != "2" {
		t.Errorf("after the upgrade, report- runs %v, want one of value 2: the last run deleted, a new one made", got)
	}
	if p := planBoth(t, s, "after the upgrade"); p.HasChanges() {
		t.Errorf("after the upgrade the plan changes %v", harness.Changes(p))
	}
}

// applyWaiting applies p waiting for readiness, as gantry apply does by
// default: hooks are waited for, then deleted by their policy (ConfigMaps
// are ready at once; no kubelet runs here for anything else).
func applyWaiting(t *testing.T, s *harness.Stack, p *plan.Plan) {
	t.Helper()
	opts := harness.ApplyOptions()
	opts.Wait = true
	if _, err := s.TryApply(p, true, opts); err != nil {
		t.Fatalf("apply plan %s: %v", p.ID, err)
	}
}

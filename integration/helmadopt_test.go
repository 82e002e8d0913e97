package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/kube"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

// TestAdoptHelmRelease installs the corpus's podinfo chart with the Helm
// SDK's own install action (`helm install`: objects applied by Helm's
// field manager, a release Secret), then plans the same chart, release
// name and values as a gantry stack: every object of the release is
// adopted in a visible plan (none created, none deleted), auto == server;
// a first apply over live objects is an upgrade, so the pre-upgrade hook
// the test adds to the chart runs (helm install did not run it), as `helm
// upgrade` would run it; applied, the next plan changes nothing, and
// Helm's release Secret is left alone: neither in the plan nor touched.
// migrateHook is a pre-upgrade hook: helm install does not run it.
const migrateHook = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: migrate\n  annotations: {helm.sh/hook: pre-upgrade}\ndata: {ran: \"yes\"}\n"

func TestAdoptHelmRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := env.Namespace(t)
	dir := filepath.Join("..", "testdata", "corpus", "charts", "podinfo")

	kubeconfig := env.Cluster.Kubeconfig
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &ns
	cfg := action.NewConfiguration()
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace = "podinfo", ns
	install.WaitStrategy = kube.HookOnlyStrategy // helm install's default: no kubelet runs here
	ch := helmtest.Load(t, dir)
	ch.Templates = append(ch.Templates, &common.File{Name: "templates/migrate.yaml", Data: []byte(migrateHook)})
	if _, err := install.RunWithContext(ctx, ch, map[string]any{"replicaCount": 2}); err != nil {
		t.Fatalf("helm install: %v", err)
	}
	secrets, err := env.Clientset(t).CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=podinfo"})
	if err != nil || len(secrets.Items) != 1 {
		t.Fatalf("helm's release Secret: %v, %v", secrets, err)
	}
	release := secrets.Items[0]

	repo := gittest.NewRepo(t)
	files := corpusChart(t, "podinfo", "chart")
	files["chart/templates/migrate.yaml"] = migrateHook
	repo.Commit("podinfo", files)
	s := env.NewStack(t, stack.Stack{Name: "podinfo-adopted", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 25,
		Source: stack.Source{Repo: repo.Dir, Ref: "main", Path: "chart", Helm: &stack.Helm{ReleaseName: "podinfo", Values: map[string]any{"replicaCount": 2}}}})
	adopt := planBoth(t, s, "adopt a helm release")
	var adopted []string
	for _, c := range adopt.Changes {
		switch {
		case c.Action == plan.ActionAdopt:
			adopted = append(adopted, c.Ref.Kind)
		case c.Action != plan.ActionNoop && c.Hook == nil:
			t.Errorf("%s: %s, want adopt: the release's objects are live", c.Ref, c.Action)
		}
		if c.Hook != nil {
			continue
		}
		if strings.HasPrefix(c.Ref.Name, "sh.helm.release") {
			t.Errorf("the plan touches helm's release Secret: %s %s", c.Ref, c.Action)
		}
	}
	var hooks []string
	for _, c := range adopt.Changes {
		if c.Hook != nil {
			hooks = append(hooks, c.Ref.Name+" "+c.Hook.Event)
		}
	}
	if len(adopted) == 0 || strings.Join(hooks, ",") != "migrate pre-upgrade" {
		t.Fatalf("adopted %v, hooks %v; want the release's objects adopted and the pre-upgrade hook run", adopted, hooks)
	}
	s.Apply(t, adopt)
	if _, err := env.Clientset(t).CoreV1().ConfigMaps(ns).Get(ctx, "migrate", metav1.GetOptions{}); err != nil {
		t.Errorf("the pre-upgrade hook did not run on the adoption: %v", err)
	}
	if p := planBoth(t, s, "after the adoption"); p.HasChanges() {
		t.Errorf("after the adoption the plan changes %v", harness.Changes(p))
	}
	after, err := env.Clientset(t).CoreV1().Secrets(ns).Get(ctx, release.Name, metav1.GetOptions{})
	if err != nil || after.ResourceVersion != release.ResourceVersion {
		t.Errorf("helm's release Secret after the adoption: %v (resourceVersion %s, was %s)", err, after.ResourceVersion, release.ResourceVersion)
	}
	d, err := env.Clientset(t).AppsV1().Deployments(ns).Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil || d.Labels[plan.StackLabel] != "podinfo-adopted" {
		t.Errorf("the Deployment after the adoption: %v, labels %v", err, d.Labels)
	}
}

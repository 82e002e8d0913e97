package integration

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/source/artifact"
	"github.com/gantryops/gantry/stack"
)

// podinfoKustomize is the corpus's podinfo kustomization, as `flux push
// artifact --path=./kustomize` packs it (its files at the artifact's root).
func podinfoKustomize(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	for p, body := range helmtest.Files(t, filepath.Join("..", "testdata", "corpus", "podinfo", "kustomize"), "") {
		files[strings.TrimPrefix(p, "/")] = body
	}
	return files
}

// TestArtifactFromOCIRegistry deploys the corpus's podinfo kustomization
// pushed as a Flux artifact to a real registry on loopback: planned auto
// == server and applied, the plan's source naming the repository, the tag
// and the manifest's digest; planned again by tag, one request (the tag's
// digest) and no change; a semver range moves the stack to 6.15.0, whose
// artifact dropped the HPA, and its apply prunes it; then, the registry
// stopped, a restore of revision 1 from Postgres alone brings it back.
func TestArtifactFromOCIRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := env.Namespace(t)
	reg := helmtest.NewRegistry(t)
	files := podinfoKustomize(t)
	digest := reg.PushFlux(t, "manifests/podinfo", "6.14.1", files)
	delete(files, "hpa.yaml")
	files["kustomization.yaml"] = strings.Replace(files["kustomization.yaml"], "  - hpa.yaml\n", "", 1)
	reg.PushFlux(t, "manifests/podinfo", "6.15.0", files)

	url := "oci://" + reg.Host() + "/manifests/podinfo"
	s := env.NewStack(t, stack.Stack{Name: "podinfo-artifact", Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 100,
		Source: stack.Source{Path: ".", Artifact: &stack.Artifact{URL: url, Tag: "6.14.1"}}})
	arts, err := artifact.New(artifact.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Engine = engine.New(s.Store, source.NewFetcher(source.FetchOptions{CacheDir: t.TempDir()}), engine.Options{Artifacts: arts})
	hpaLive := func() bool {
		_, err := env.Clientset(t).AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "podinfo", metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}

	first := planBoth(t, s, "install")
	src := first.Source
	if src.Kind != plan.SourceOCIArtifact || src.Repo != url || src.Ref != "6.14.1" || src.Version != "6.14.1" || "sha256:"+src.Commit != digest {
		t.Errorf("the plan's source %+v does not name the artifact, its tag and digest %s", src, digest)
	}
	s.Apply(t, first)
	if !hpaLive() {
		t.Fatal("the artifact's HPA is not live after the apply")
	}
	reg.Requests.Store(0)
	if p := planBoth(t, s, "by tag, nothing to do"); p.HasChanges() || reg.Requests.Load() != 2 {
		t.Errorf("a tag already pulled: changes %v, %d requests to the registry; want none and 2 (one per plan)", harness.Changes(p), reg.Requests.Load())
	}

	s.Def.Source.Artifact = &stack.Artifact{URL: url, Semver: "~6.15"}
	upgrade := planBoth(t, s, "range to 6.15.0")
	if upgrade.Source.Version != "6.15.0" || upgrade.Source.Ref != "~6.15" || upgrade.Source.Commit == src.Commit {
		t.Errorf("the range resolved to %s (%s)", upgrade.Source.Version, upgrade.Source.Commit)
	}
	s.Apply(t, upgrade)
	if hpaLive() {
		t.Error("the HPA 6.15.0 dropped was not pruned")
	}

	reg.Close() // the registry is gone: restore works from Postgres alone
	restore, err := s.Engine.Restore(ctx, engine.RestoreRequest{Stack: "podinfo-artifact", Cluster: s.Kube, To: "1"})
	if err != nil {
		t.Fatalf("restore with the registry down: %v", err)
	}
	if restore.Plan.Source.Kind != plan.SourceOCIArtifact || restore.Plan.Source.Commit != src.Commit {
		t.Errorf("the restore's source %+v", restore.Plan.Source)
	}
	s.Apply(t, restore.Plan)
	if !hpaLive() {
		t.Error("the restore of revision 1 did not bring the HPA back")
	}
}

// TestCLIArtifact applies a directory pushed with oras to a private
// registry (a plain YAML path inside it) ad hoc (--artifact …:TAG,
// --path), the registry's credentials in a Docker config file; then plans
// it by digest and reads it back with history: the artifact, its tag and
// its digest are on record, the password in no output. A second tag is
// applied, the registry stopped, and show and diff of the two revisions
// answer from Postgres alone.
func TestCLIArtifact(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	reg := helmtest.NewPrivateRegistry(t, "ci", "hunter2-oci")
	dir := helmtest.WriteFiles(t, map[string]string{
		"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-oras}\ndata: {a: b}\n",
		"README.md":   "not rendered\n",
	})
	digest := reg.PushOras(t, "apps/web", "v1", dir)
	c := newCLI(t, env.DB.NewDatabase(t))
	docker := helmtest.WriteFiles(t, map[string]string{"config.json": `{"auths": {"` + reg.Host() + `": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("ci:hunter2-oci")) + `"}}}`})
	c.env = append(c.env, "DOCKER_CONFIG="+docker)
	ref := "oci://" + reg.Host() + "/apps/web"
	path := filepath.Base(dir) + "/app"
	out, errOut, code := c.run("apply", "--auto-approve", "--wait=false", "--artifact", ref+":v1", "--path", path, "--stack", "web", "--namespace", ns)
	if code != 0 || !strings.Contains(out, "Apply complete! Resources: 1 added") || !strings.Contains(out, "artifact "+ref+":v1 (asked v1, digest "+strings.TrimPrefix(digest, "sha256:")[:12]) {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "hunter2-oci") {
		t.Error("the registry's password is in gantry's output")
	}
	if _, err := env.Clientset(t).CoreV1().ConfigMaps(ns).Get(context.Background(), "from-oras", metav1.GetOptions{}); err != nil {
		t.Errorf("the artifact's ConfigMap: %v", err)
	}
	out, errOut, code = c.run("plan", "--artifact", ref+"@"+digest, "--path", path, "--stack", "web", "--namespace", ns)
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Errorf("plan by digest: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = c.run("history", "web")
	if code != 0 || !strings.Contains(out, strings.TrimPrefix(digest, "sha256:")[:12]) {
		t.Errorf("history: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := c.run("plan", "--artifact", ref+":v1", "--artifact-semver", "^1", "--path", path, "--namespace", ns); code == 0 || !strings.Contains(errOut, "give one of tag, semver and digest") {
		t.Errorf("a tag and a range: exit %d, %s", code, errOut)
	}

	// A second revision, then the registry stopped: the record alone
	// answers show and diff of the revisions.
	// The same directory name: the same path inside the artifact.
	root := helmtest.WriteFiles(t, map[string]string{filepath.Base(dir) + "/app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-oras}\ndata: {a: c}\n"})
	reg.PushOras(t, "apps/web", "v2", filepath.Join(root, filepath.Base(dir)))
	if out, errOut, code := c.run("apply", "--auto-approve", "--wait=false", "--artifact", ref+":v2", "--path", path, "--stack", "web", "--namespace", ns); code != 0 {
		t.Fatalf("apply v2: exit %d\n%s\n%s", code, out, errOut)
	}
	reg.Close()
	if out := c.mustRun("", "show", "web@1", "-o", "yaml"); !strings.Contains(out, "a: b") {
		t.Errorf("show web@1 with the registry down:\n%s", out)
	}
	if out := c.mustRun("", "diff", "web", "1", "2"); !strings.Contains(out, "-   a: b") || !strings.Contains(out, "+   a: c") || !strings.Contains(out, "1 changed") {
		t.Errorf("diff web 1 2 with the registry down:\n%s", out)
	}
	c.env = c.env[:len(c.env)-1]
	if _, errOut, code := c.run("plan", "--artifact", ref+":v3", "--path", path, "--namespace", ns); code == 0 {
		t.Errorf("a plan with the registry down succeeded: %s", errOut)
	}
}

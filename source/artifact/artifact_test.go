package artifact_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/source/artifact"
	"github.com/gantryops/gantry/stack"
)

var kustomized = map[string]string{
	"deploy/kustomization.yaml": "namePrefix: prod-\nresources: [cm.yaml]\n",
	"deploy/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n",
	"plain/svc.yaml":            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
}

func names(t *testing.T, c *source.Commit, path string) string {
	t.Helper()
	rev, err := c.Render(context.Background(), path, source.DefaultRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range rev.Objects {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestFluxArtifact pulls an artifact pushed as `flux push artifact`
// pushes it from a real registry on loopback, renders its kustomization
// (in the sandbox) and its plain YAML, and counts the registry's requests:
// a tag costs one once the registry is known, a stored digest none.
func TestFluxArtifact(t *testing.T) {
	reg := helmtest.NewRegistry(t)
	digest := reg.PushFlux(t, "apps/web", "v1.0.0", kustomized)
	c, err := artifact.New(artifact.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref := stack.Artifact{URL: "oci://" + reg.Host() + "/apps/web", Tag: "v1.0.0"}
	a, err := c.Resolve(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if "sha256:"+a.Digest != digest || a.Version != "v1.0.0" {
		t.Fatalf("resolved %s %s, want %s", a.Version, a.Digest, digest)
	}
	commit, err := c.Pull(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if commit.SHA != a.Digest || commit.Repo != ref.URL || commit.Ref != "v1.0.0" {
		t.Fatalf("commit %s %s %s", commit.Repo, commit.Ref, commit.SHA)
	}
	if got := names(t, commit, "deploy"); got != "ConfigMap/prod-web" {
		t.Fatalf("kustomization rendered %s", got)
	}
	if got := names(t, commit, "plain"); got != "Service/web" {
		t.Fatalf("plain YAML rendered %s", got)
	}

	before := reg.Requests.Load()
	if a, err = c.Resolve(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pull(ctx, a); err != nil {
		t.Fatal(err)
	}
	if n := reg.Requests.Load() - before; n != 1 {
		t.Errorf("a tag resolved again and its artifact pulled from the store cost %d requests, want 1", n)
	}
	before = reg.Requests.Load()
	pinned, err := c.Resolve(ctx, stack.Artifact{URL: ref.URL, Digest: digest})
	if err == nil {
		_, err = c.Pull(ctx, pinned)
	}
	if err != nil || reg.Requests.Load() != before {
		t.Errorf("a stored digest cost %d requests (%v), want none", reg.Requests.Load()-before, err)
	}

	// A new cache, the registry stopped: nothing to render from.
	reg.Close()
	c2, _ := artifact.New(artifact.Options{CacheDir: t.TempDir()})
	if _, err := c2.Pull(ctx, pinned); err == nil {
		t.Fatal("pulled from a stopped registry into an empty cache")
	}
}

// TestOrasArtifact pulls a directory pushed with oras-go's file store, as
// `oras push HOST/REPO:TAG DIR` pushes it (a tar+gzip layer of the OCI
// layer media type), chosen from its tags by a semver range.
func TestOrasArtifact(t *testing.T) {
	reg := helmtest.NewRegistry(t)
	dir := helmtest.WriteFiles(t, kustomized)
	for _, tag := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		reg.PushOras(t, "apps/web", tag, dir)
	}
	c, err := artifact.New(artifact.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := c.Resolve(ctx, stack.Artifact{URL: "oci://" + reg.Host() + "/apps/web", Semver: "~1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != "1.1.0" {
		t.Fatalf("~1 resolved to %s, want 1.1.0", a.Version)
	}
	commit, err := c.Pull(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	// oras packs the directory under its own name.
	if got := names(t, commit, filepath.Base(dir)+"/deploy"); got != "ConfigMap/prod-web" {
		t.Fatalf("rendered %s", got)
	}
	before := reg.Requests.Load()
	if b, err := c.Resolve(ctx, stack.Artifact{URL: a.URL, Semver: "~1"}); err != nil || b.Digest != a.Digest {
		t.Fatalf("resolved again: %v, %v", b, err)
	}
	if n := reg.Requests.Load() - before; n != 1 {
		t.Errorf("a range resolved again cost %d requests, want 1 (the tags)", n)
	}
}

// TestTamperedLayer serves a layer whose bytes are not those of its
// digest: the pull fails and stores nothing, so the next pull asks again.
func TestTamperedLayer(t *testing.T) {
	var tamper atomic.Bool
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tamper.Load() || !strings.Contains(r.URL.Path, "/blobs/") || r.Method != http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := helmtest.TarGz(t, map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil}\n"})
		if !bytes.HasPrefix(rec.Body.Bytes(), []byte{0x1f, 0x8b}) {
			body = rec.Body.Bytes() // the config blob
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer srv.Close()
	reg := &helmtest.Registry{Server: srv}
	digest := reg.PushFlux(t, "apps/web", "v1", kustomized)
	cache := t.TempDir()
	c, _ := artifact.New(artifact.Options{CacheDir: cache})
	ctx := context.Background()
	a, err := c.Resolve(ctx, stack.Artifact{URL: "oci://" + reg.Host() + "/apps/web", Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	tamper.Store(true)
	if _, err := c.Pull(ctx, a); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a tampered layer pulled: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "store", "artifacts", a.Digest)); !os.IsNotExist(err) {
		t.Fatalf("a tampered layer was stored: %v", err)
	}
	tamper.Store(false)
	commit, err := c.Pull(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, commit, "deploy"); got != "ConfigMap/prod-web" {
		t.Fatalf("rendered %s", got)
	}
}

// TestTagCacheIsPerRepository: the digests semver-chosen tags resolved to
// are kept per repository, so that two repositories whose names differ
// only by "/" and "_" never answer for each other.
func TestTagCacheIsPerRepository(t *testing.T) {
	reg := helmtest.NewRegistry(t)
	theirs := reg.PushFlux(t, "team_a/app", "1.0.0", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs}\n"})
	ours := reg.PushFlux(t, "team/a_app", "1.0.0", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ours}\n"})
	c, err := artifact.New(artifact.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, row := range []struct{ repo, want string }{{"team_a/app", theirs}, {"team/a_app", ours}} {
		a, err := c.Resolve(ctx, stack.Artifact{URL: "oci://" + reg.Host() + "/" + row.repo, Semver: "1.x"})
		if err != nil {
			t.Fatal(err)
		}
		if "sha256:"+a.Digest != row.want {
			t.Errorf("%s resolved to %s, want %s", row.repo, a.Digest, row.want)
		}
	}
}

// TestRegistryThatStalls: a registry that answers nothing within the
// client's timeout fails the resolve, instead of holding it forever.
func TestRegistryThatStalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	c, err := artifact.New(artifact.Options{CacheDir: t.TempDir(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Resolve(context.Background(), stack.Artifact{URL: "oci://" + strings.TrimPrefix(srv.URL, "http://") + "/apps/web", Tag: "v1"})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("a stalled registry: %v after %s", err, time.Since(start))
	}
}

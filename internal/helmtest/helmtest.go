// Package helmtest serves real Helm repositories on loopback for tests:
// charts packaged and indexed by the Helm SDK (as `helm package` and `helm
// repo index` make them), served as static files with ETags, requests
// counted, credentials optionally required.
package helmtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// Repository is a Helm repository on loopback.
type Repository struct {
	*httptest.Server
	// Dir holds its files: the archives and index.yaml.
	Dir string
	// Requests counts the requests it answered.
	Requests atomic.Int64
	auth     atomic.Value // the last Authorization header
	user     string
	pass     string
}

// New starts a repository, requiring basic auth user:pass when user is set;
// it is stopped when the test ends.
func New(t testing.TB, user, pass string) *Repository {
	t.Helper()
	r := &Repository{Dir: t.TempDir(), user: user, pass: pass}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *Repository) serve(w http.ResponseWriter, req *http.Request) {
	r.Requests.Add(1)
	r.auth.Store(req.Header.Get("Authorization"))
	if u, p, ok := req.BasicAuth(); r.user != "" && (!ok || u != r.user || p != r.pass) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	data, err := os.ReadFile(filepath.Join(r.Dir, filepath.Base(req.URL.Path)))
	if err != nil {
		http.NotFound(w, req)
		return
	}
	sum := sha256.Sum256(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(data))
}

// Authorization is the Authorization header of the last request.
func (r *Repository) Authorization() string {
	s, _ := r.auth.Load().(string)
	return s
}

// Load loads a chart directory.
func Load(t testing.TB, dir string) *chartv2.Chart {
	t.Helper()
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// Publish packages ch at each version into the repository and indexes
// it, with chart URLs under urlBase ("": the repository itself).
func (r *Repository) Publish(t testing.TB, ch *chartv2.Chart, urlBase string, versions ...string) {
	t.Helper()
	for _, v := range versions {
		ch.Metadata.Version = v
		if _, err := chartutil.Save(ch, r.Dir); err != nil {
			t.Fatal(err)
		}
	}
	if urlBase == "" {
		urlBase = r.URL
	}
	idx, err := repo.IndexDirectory(r.Dir, urlBase)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(r.Dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Registry is an OCI registry on loopback (go-containerregistry's
// implementation of the distribution API), for charts pushed as `helm push`
// pushes them; it counts requests.
type Registry struct {
	*httptest.Server
	Requests   atomic.Int64
	user, pass string
}

// NewRegistry starts a registry, stopped when the test ends.
func NewRegistry(t testing.TB) *Registry { return NewPrivateRegistry(t, "", "") }

// NewPrivateRegistry starts a registry that answers 401 to requests
// without basic auth of user and password ("": any request).
func NewPrivateRegistry(t testing.TB, user, pass string) *Registry {
	t.Helper()
	r := &Registry{user: user, pass: pass}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.Requests.Add(1)
		if u, p, _ := req.BasicAuth(); user != "" && (u != user || p != pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

// Auth is the option that pushes to the registry with its credentials.
func (r *Registry) Auth() remote.Option {
	if r.user == "" {
		return remote.WithAuth(authn.Anonymous)
	}
	return remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass})
}

// Host is the registry's host:port, for oci://HOST/PATH.
func (r *Registry) Host() string { return strings.TrimPrefix(r.URL, "http://") }

// Push packages ch at version and pushes it as repo/NAME:VERSION (the tag
// as Helm writes it, "+" as "_"), its archive a layer of Helm's chart media
// type; layerType overrides that type ("": the chart's).
func (r *Registry) Push(t testing.TB, ch *chartv2.Chart, repo, version, layerType string) {
	t.Helper()
	ch.Metadata.Version = version
	path, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if layerType == "" {
		layerType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(tgz, types.MediaType(layerType))})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), "application/vnd.cncf.helm.config.v1+json")
	tag, err := name.NewTag(r.Host() + "/" + repo + "/" + ch.Name() + ":" + strings.ReplaceAll(version, "+", "_"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, r.Auth()); err != nil {
		t.Fatal(err)
	}
}

// Files reads a chart directory into files by path under prefix, as a
// commit holds them (none is an error).
func Files(t testing.TB, dir, prefix string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		files[prefix+"/"+filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("chart %s: %v", dir, err)
	}
	return files
}

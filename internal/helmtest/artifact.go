package helmtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/file"
	orasremote "oras.land/oras-go/v2/registry/remote"
	orasauth "oras.land/oras-go/v2/registry/remote/auth"

	"github.com/gantryops/gantry/internal/ocipush"
)

// PushFlux pushes files (by slash path) as `flux push artifact` does, to
// repo:tag of the registry, and returns the manifest's digest
// ("sha256:…").
func (r *Registry) PushFlux(t testing.TB, repo, tag string, files map[string]string) string {
	t.Helper()
	img, err := ocipush.Flux(files, "https://git.example.com/apps.git", "main@sha1:0123456789abcdef0123456789abcdef01234567")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(r.Host()+"/"+repo+":"+tag, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, r.Auth()); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// PushOras pushes the directory dir as `oras push HOST/REPO:TAG DIR` does
// (oras-go's file store packs a directory as a tar+gzip layer), and
// returns the manifest's digest.
func (r *Registry) PushOras(t testing.TB, repo, tag, dir string) string {
	t.Helper()
	ctx := context.Background()
	fs, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	layer, err := fs.Add(ctx, filepath.Base(dir), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := oras.PackManifest(ctx, fs, oras.PackManifestVersion1_1, "application/vnd.unknown.artifact.v1",
		oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Tag(ctx, manifest, tag); err != nil {
		t.Fatal(err)
	}
	dst, err := orasremote.NewRepository(r.Host() + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	dst.PlainHTTP = true
	if r.user != "" {
		dst.Client = &orasauth.Client{Credential: orasauth.StaticCredential(r.Host(), orasauth.Credential{Username: r.user, Password: r.pass})}
	}
	if _, err := oras.Copy(ctx, fs, tag, dst, tag, oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	return manifest.Digest.String()
}

// TarGz packs files as `flux push artifact` does (ocipush.TarGz).
func TarGz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	data, err := ocipush.TarGz(files)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// WriteFiles writes files (by slash path) under a new directory and
// returns it.
func WriteFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, body := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

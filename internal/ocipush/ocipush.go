// Package ocipush builds OCI artifacts as their tools push them, for the
// demo and the tests: Flux's format (`flux push artifact`, after
// fluxcd/pkg/oci) from files in memory.
package ocipush

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Flux's artifact format: an OCI manifest with this config media type and
// one layer of the content media type, a tar+gzip of the files.
const (
	FluxConfigMediaType  = "application/vnd.cncf.flux.config.v1+json"
	FluxContentMediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"
)

// Flux is files (by slash path) as `flux push artifact` packs them, with
// the annotations it writes (source and revision as given).
func Flux(files map[string]string, source, revision string) (v1.Image, error) {
	tgz, err := TarGz(files)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(tgz, FluxContentMediaType)})
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), FluxConfigMediaType)
	return mutate.Annotations(img, map[string]string{
		"org.opencontainers.image.created":  time.Unix(0, 0).UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":   source,
		"org.opencontainers.image.revision": revision,
	}).(v1.Image), nil
}

// TarGz packs files (by slash path, in sorted order) as a tar+gzip, with
// the "./"-prefixed names `flux push artifact` writes.
func TarGz(files map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := tw.WriteHeader(&tar.Header{Name: "./" + p, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[p]))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(files[p])); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

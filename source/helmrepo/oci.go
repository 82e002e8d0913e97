package helmrepo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantryops/gantry/internal/atomicfile"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantryops/gantry/internal/ocitags"
)

// ChartLayerMediaType is the media type of a Helm chart's archive in an
// OCI registry (`helm push`).
const ChartLayerMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// ociPrefix marks a repository that is an OCI registry.
const ociPrefix = "oci://"

// isOCI reports whether repoURL names an OCI registry.
func isOCI(repoURL string) bool { return strings.HasPrefix(repoURL, ociPrefix) }

// ociRepository is the registry repository of chart name under repoURL.
func ociRepository(repoURL, chart string) (name.Repository, error) {
	ref := strings.TrimSuffix(strings.TrimPrefix(repoURL, ociPrefix), "/") + "/" + chart
	if strings.Contains(ref, "@") || strings.Contains(strings.TrimPrefix(repoURL, ociPrefix), "://") {
		return name.Repository{}, fmt.Errorf("OCI repository %q: write oci://HOST/PATH, without credentials", repoURL)
	}
	repo, err := name.NewRepository(ref, name.StrictValidation)
	if err != nil {
		return name.Repository{}, fmt.Errorf("OCI repository %q: %w", repoURL, err)
	}
	return repo, nil
}

// ociResolve resolves chart name's constraint in an OCI registry: an exact
// version is its tag (Helm's: "+" written "_"), known from the cache at no
// cost once seen; a range lists the repository's tags (one request) and
// takes the highest semver match.
func (c *Client) ociResolve(ctx context.Context, repoURL, chart, constraint string) (*Version, error) {
	repo, err := ociRepository(repoURL, chart)
	if err != nil {
		return nil, err
	}
	version := constraint
	if !exact(constraint) {
		tags, err := ocitags.List(ctx, repo, c.remoteOptions(ctx, repoURL)...)
		if err != nil {
			return nil, fmt.Errorf("%s: list tags: %w", repo, err)
		}
		if version, err = highest(tags, constraint); err != nil {
			return nil, fmt.Errorf("%s: %w", repo, err)
		}
	}
	cached := filepath.Join(c.repoDir(repo.String()), strings.ReplaceAll(version, "+", "_")+".json")
	var v Version
	if data, err := os.ReadFile(cached); err == nil && json.Unmarshal(data, &v) == nil && validDigest(v.Digest) && c.archiveCached(v.Digest) {
		return &v, nil
	}
	tag := repo.Tag(strings.ReplaceAll(version, "+", "_"))
	img, err := remote.Image(tag, c.remoteOptions(ctx, repoURL)...)
	if err != nil {
		return nil, fmt.Errorf("%s: version %s: %w", repo, version, err)
	}
	layers, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("%s:%s: manifest: %w", repo, version, err)
	}
	for _, l := range layers.Layers {
		if string(l.MediaType) != ChartLayerMediaType {
			continue
		}
		if l.Size > c.opts.MaxChartBytes {
			return nil, fmt.Errorf("%s:%s: the chart is %d bytes, over the limit of %d", repo, version, l.Size, c.opts.MaxChartBytes)
		}
		v = Version{Repo: repoURL, Name: chart, Version: version, Digest: l.Digest.Hex, URL: repo.Digest(l.Digest.String()).String()}
		js, _ := json.Marshal(v)
		return &v, atomicfile.Write(cached, js)
	}
	return nil, fmt.Errorf("%s:%s holds no Helm chart (no layer of media type %s)", repo, version, ChartLayerMediaType)
}

// ociPull fetches v's chart layer by digest (verified by the client as it
// reads), at most MaxChartBytes.
func (c *Client) ociPull(ctx context.Context, v *Version) ([]byte, error) {
	ref, err := name.NewDigest(v.URL, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", v.Name, v.Version, err)
	}
	layer, err := remote.Layer(ref, c.remoteOptions(ctx, v.Repo)...)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", v.Name, v.Version, err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", v.Name, v.Version, err)
	}
	defer rc.Close()
	data, err := readBounded(rc, c.opts.MaxChartBytes)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", v.Name, v.Version, err)
	}
	return data, nil
}

// remoteOptions are the registry client's options: this context, the
// Client's transport, and the credentials for repoURL (none elsewhere).
func (c *Client) remoteOptions(ctx context.Context, repoURL string) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx)}
	if t := c.opts.HTTP.Transport; t != nil {
		opts = append(opts, remote.WithTransport(ocitags.LimitPages(t)))
	} else {
		opts = append(opts, remote.WithTransport(ocitags.LimitPages(http.DefaultTransport)))
	}
	if c.opts.Credentials != nil {
		if user, pass := c.opts.Credentials(repoURL); user != "" || pass != "" {
			opts = append(opts, remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
		}
	}
	return opts
}

// highest is the highest version among tags (Helm's "_" read as "+") that
// constraint matches.
func highest(tags []string, constraint string) (string, error) {
	_, v, ok, err := ocitags.Highest(tags, constraint, func(t string) string { return strings.ReplaceAll(t, "_", "+") })
	switch {
	case err != nil:
		return "", fmt.Errorf("version %q: %w", constraint, err)
	case !ok:
		return "", errors.New("no version matches " + constraint)
	}
	return v.Original(), nil
}

// readBounded reads r whole, refusing more than limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("more than the limit of %d bytes", limit)
	}
	return data, nil
}

// Package ocitags lists a registry repository's tags within bounds: a
// registry is hostile until read, and go-containerregistry's List decodes
// every page whole and follows every next page.
package ocitags

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Bounds of a listing: pages followed, tags kept, bytes of one page.
const (
	MaxPages     = 100
	MaxTags      = 100000
	MaxPageBytes = 8 << 20
)

// List returns repo's tags: at most MaxPages pages of at most MaxPageBytes
// each (the transport in opts should be LimitPages'), at most MaxTags
// tags.
func List(ctx context.Context, repo name.Repository, opts ...remote.Option) ([]string, error) {
	p, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	l, err := p.Lister(ctx, repo)
	if err != nil {
		return nil, err
	}
	var tags []string
	for pages := 0; l.HasNext(); pages++ {
		if pages == MaxPages {
			return nil, fmt.Errorf("%s lists more than %d pages of tags", repo, MaxPages)
		}
		page, err := l.Next(ctx)
		if err != nil {
			return nil, err
		}
		tags = append(tags, page.Tags...)
		if len(tags) > MaxTags {
			return nil, fmt.Errorf("%s lists more than %d tags", repo, MaxTags)
		}
	}
	return tags, nil
}

// LimitPages wraps rt so that a tags list's response body (a path ending
// in /tags/list) fails past MaxPageBytes.
func LimitPages(rt http.RoundTripper) http.RoundTripper { return limiter{rt} }

type limiter struct{ rt http.RoundTripper }

func (l limiter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/tags/list") {
		return resp, err
	}
	resp.Body = &capped{rc: resp.Body, left: MaxPageBytes}
	return resp, nil
}

type capped struct {
	rc   io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("a page of tags over %d bytes", MaxPageBytes)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.rc.Close() }

// Highest returns the tag of tags whose version constraint matches and is
// the highest, and that version; version reads a tag as a version (Helm
// writes "+" as "_" in tags), "" for none; false when no tag matches. A
// constraint that does not parse is an error.
func Highest(tags []string, constraint string, version func(tag string) string) (string, *semver.Version, bool, error) {
	cons, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", nil, false, err
	}
	var best *semver.Version
	var bestTag string
	for _, t := range tags {
		v, err := semver.NewVersion(version(t))
		if err != nil || !cons.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best, bestTag = v, t
		}
	}
	return bestTag, best, best != nil, nil
}

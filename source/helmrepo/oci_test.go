package helmrepo_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/helmtest"
	"github.com/gantryops/gantry/source/helm"
)

// TestOCIChart: charts pushed to a real OCI registry on loopback (as `helm
// push` does): an exact version is its tag, resolved and pulled once, then
// from the cache with no request at all; a range lists the tags and takes
// the highest match; an artifact without a chart layer is refused.
func TestOCIChart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := helmtest.NewRegistry(t)
	ch := corpus(t, "podinfo")
	r.Push(t, ch, "charts", "6.14.1", "")
	r.Push(t, ch, "charts", "6.15.0", "")
	r.Push(t, ch, "charts", "7.0.0-rc.1", "")
	r.Push(t, ch, "other", "1.0.0", "application/vnd.example.not-a-chart")
	repo := "oci://" + r.Host() + "/charts"
	cache := t.TempDir()

	v, err := client(t, cache, nil).Resolve(ctx, repo, "podinfo", "6.14.1")
	if err != nil {
		t.Fatal(err)
	}
	data, err := client(t, cache, nil).Pull(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if loaded, err := helm.LoadArchive(data, func(string, []byte) error { return nil }); err != nil || loaded.Metadata.Version != "6.14.1" || len(v.Digest) != 64 {
		t.Fatalf("pulled %v (digest %q): %v", loaded, v.Digest, err)
	}
	r.Requests.Store(0)
	again, err := client(t, cache, nil).Resolve(ctx, repo, "podinfo", "6.14.1")
	if err == nil {
		_, err = client(t, cache, nil).Pull(ctx, again)
	}
	if err != nil || r.Requests.Load() != 0 || again.Digest != v.Digest {
		t.Errorf("a pinned version cached: %d requests, err %v; want 0", r.Requests.Load(), err)
	}
	for constraint, want := range map[string]string{"^6": "6.15.0", "6.14.x": "6.14.1", ">=7.0.0-0": "7.0.0-rc.1"} {
		got, err := client(t, cache, nil).Resolve(ctx, repo, "podinfo", constraint)
		if err != nil || got.Version != want {
			t.Errorf("range %q: %v, %v; want %s", constraint, got, err, want)
		}
	}
	for _, tc := range []struct{ repo, chart, version, want string }{
		{"oci://" + r.Host() + "/other", "podinfo", "1.0.0", "holds no Helm chart"},
		{repo, "podinfo", "^8", "no version matches ^8"},
		{repo, "podinfo", "6.0.0", "version 6.0.0"},
		{"oci://u:p@" + r.Host() + "/charts", "podinfo", "6.14.1", "OCI repository"},
	} {
		if _, err := client(t, t.TempDir(), nil).Resolve(ctx, tc.repo, tc.chart, tc.version); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s %s: err = %v, want %q", tc.repo, tc.chart, tc.version, err, tc.want)
		}
	}
}

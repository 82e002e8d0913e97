package source_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/source"
)

// TestSandboxBounds renders kustomizations that spend a bound of the
// sandbox: each render is stopped and says which bound.
func TestSandboxBounds(t *testing.T) {
	var many strings.Builder
	for i := range 200 {
		fmt.Fprintf(&many, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm%d}\n", i)
	}
	c := commitAndFetch(t, map[string]string{
		"app/kustomization.yaml":       "resources: [cm.yaml]\n",
		"app/cm.yaml":                  configMap("a", "1"),
		"bomb/kustomization.yaml":      "resources: [boom.yaml]\n",
		"bomb/boom.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\ndata:\n" + bomb("  "),
		"amplified/kustomization.yaml": "resources: [many.yaml]\ncommonAnnotations:\n  big: " + strings.Repeat("x", 20<<10) + "\n",
		"amplified/many.yaml":          many.String(),
	})
	ctx := context.Background()
	for _, tc := range []struct {
		name, path string
		opts       func(o source.RenderOptions) source.RenderOptions
		want       string
	}{
		{"memory", "app", func(o source.RenderOptions) source.RenderOptions { o.MaxMemoryBytes = 4 << 20; return o }, "used more than 4194304 bytes of memory"},
		{"memory, a bomb past the YAML bounds", "bomb", func(o source.RenderOptions) source.RenderOptions {
			o.MaxMemoryBytes = 256 << 20
			return source.WithoutYAMLBounds(o)
		}, "used more than 268435456 bytes of memory"},
		{"time", "app", func(o source.RenderOptions) source.RenderOptions { o.Timeout = time.Millisecond; return o }, "took longer than 1ms"},
		{"output", "amplified", func(o source.RenderOptions) source.RenderOptions { o.MaxRenderBytes = 1 << 20; return o }, "rendered objects are more than 3145728 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			rev, err := c.Render(ctx, tc.path, tc.opts(source.DefaultRenderOptions()))
			if err == nil {
				t.Fatalf("rendered %d objects, want the render stopped", len(rev.Objects))
			}
			t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "render "+tc.path) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	if _, err := c.Render(ctx, "amplified", source.DefaultRenderOptions()); err != nil {
		t.Errorf("the amplified render within its bounds: %v", err)
	}
}

// TestSandboxCancel cancels a render: the sandbox is stopped and the
// render returns the context's error.
func TestSandboxCancel(t *testing.T) {
	c := commitAndFetch(t, map[string]string{
		"app/kustomization.yaml": "resources: [cm.yaml]\n",
		"app/cm.yaml":            configMap("a", "1"),
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Render(ctx, "app", source.DefaultRenderOptions()); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v, want context canceled", err)
	}
}

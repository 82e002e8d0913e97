package source_test

import (
	"context"
	"fmt"
	"runtime"
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
		{"output", "amplified", func(o source.RenderOptions) source.RenderOptions { o.MaxRenderBytes = 1 << 20; return o }, "rendered objects are more than 1048576 bytes"},
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

// TestSandboxAnswerIsStreamed renders a kustomization whose output (60
// objects of 1 MiB) is far larger than its input: this process decodes the
// sandbox's answer object by object as it arrives, so its heap grows by
// about the objects it keeps, not by a copy of the whole answer as well
// (3.5 times the output before).
func TestSandboxAnswerIsStreamed(t *testing.T) {
	const n = 60
	var many strings.Builder
	for i := range n {
		fmt.Fprintf(&many, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm%d}\n", i)
	}
	c := commitAndFetch(t, map[string]string{
		"app/kustomization.yaml": "resources: [many.yaml]\npatches:\n- target: {kind: ConfigMap}\n  patch: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: any}\n    data: {big: " + strings.Repeat("x", 1<<20) + "}\n",
		"app/many.yaml":          many.String(),
	})
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := base.HeapInuse
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		}
	}()
	rev, err := c.Render(context.Background(), "app", source.DefaultRenderOptions())
	close(done)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	output := int64(n << 20)
	grew := int64(peak - base.HeapInuse)
	t.Logf("%d objects, about %d MB of output: the heap grew by %d MB at its peak", len(rev.Objects), output>>20, grew>>20)
	if grew > output*3/2 {
		t.Errorf("the heap grew by %d MB for %d MB of output", grew>>20, output>>20)
	}
}

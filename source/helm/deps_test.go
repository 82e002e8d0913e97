package helm_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/gantryops/gantry/source/helm"
)

func TestMissing(t *testing.T) {
	dep := func(name, version, repo string) *chartv2.Dependency {
		return &chartv2.Dependency{Name: name, Version: version, Repository: repo}
	}
	sub := func(name string) *chartv2.Chart {
		return &chartv2.Chart{Metadata: &chartv2.Metadata{Name: name, Version: "1.0.0", APIVersion: "v2"}}
	}
	rows := []struct {
		name string
		deps []*chartv2.Dependency
		lock []*chartv2.Dependency
		held []string
		want []helm.Dependency
	}{
		{name: "none"},
		{name: "held in charts/", deps: []*chartv2.Dependency{dep("redis", "^18", "https://c.example.com")}, held: []string{"redis"}},
		{name: "missing, no lock: the range", deps: []*chartv2.Dependency{dep("redis", "^18", "https://c.example.com")},
			want: []helm.Dependency{{Name: "redis", Version: "^18", Repository: "https://c.example.com"}}},
		{name: "missing, locked: the lock's version", deps: []*chartv2.Dependency{dep("redis", "^18", "https://c.example.com")}, lock: []*chartv2.Dependency{dep("redis", "18.2.1", "https://c.example.com")},
			want: []helm.Dependency{{Name: "redis", Version: "18.2.1", Repository: "https://c.example.com", Locked: true}}},
		{name: "a lock of another repository is not this dependency's", deps: []*chartv2.Dependency{dep("redis", "^18", "https://c.example.com")}, lock: []*chartv2.Dependency{dep("redis", "18.2.1", "https://other.example.com")},
			want: []helm.Dependency{{Name: "redis", Version: "^18", Repository: "https://c.example.com"}}},
		{name: "one of two held", deps: []*chartv2.Dependency{dep("redis", "^18", "oci://r.example.com/charts"), dep("common", "2.x", "https://c.example.com")}, held: []string{"common"},
			want: []helm.Dependency{{Name: "redis", Version: "^18", Repository: "oci://r.example.com/charts"}}},
	}
	for _, row := range rows {
		ch := &chartv2.Chart{Metadata: &chartv2.Metadata{Name: "app", Version: "1.0.0", APIVersion: "v2", Dependencies: row.deps}}
		if row.lock != nil {
			ch.Lock = &chartv2.Lock{Dependencies: row.lock}
		}
		for _, h := range row.held {
			ch.AddDependency(sub(h))
		}
		if diff := cmp.Diff(row.want, helm.Missing(ch)); diff != "" {
			t.Errorf("%s (-want +got)\n%s", row.name, diff)
		}
	}
}

// TestRenderRefusesMissingDependencies: a chart whose charts/ lacks a
// dependency (or whose subchart lacks one of its own) is refused by name,
// not rendered without it.
func TestRenderRefusesMissingDependencies(t *testing.T) {
	parent := &chartv2.Chart{Metadata: &chartv2.Metadata{Name: "app", Version: "1.0.0", APIVersion: "v2",
		Dependencies: []*chartv2.Dependency{{Name: "redis", Version: "^18", Repository: "https://c.example.com"}}}}
	_, err := helm.Render(context.Background(), parent, helm.Options{ReleaseName: "r"})
	if err == nil || !strings.Contains(err.Error(), "chart app lists dependencies its charts/ does not hold: redis ^18 (https://c.example.com)") {
		t.Fatalf("a missing dependency: %v", err)
	}
	top := &chartv2.Chart{Metadata: &chartv2.Metadata{Name: "top", Version: "1.0.0", APIVersion: "v2",
		Dependencies: []*chartv2.Dependency{{Name: "app", Version: "1.0.0"}}}}
	top.AddDependency(parent)
	if _, err := helm.Render(context.Background(), top, helm.Options{ReleaseName: "r"}); err == nil || !strings.Contains(err.Error(), "chart app lists dependencies") {
		t.Fatalf("a subchart's missing dependency: %v", err)
	}
}

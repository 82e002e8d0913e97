// Package depcheck holds two tests: the module's dependencies are at the
// versions DESIGN.md pins (checked together on this Go version). A `go get`
// of an older version of anything can silently downgrade other modules to
// satisfy it; this test makes that visible in CI. The other
// (TestArchitectureTable) keeps docs/architecture.md's package table true.
package depcheck

import (
	"os"
	"regexp"
	"testing"
)

// pins are the versions the design fixes for direct dependencies.
var pins = map[string]string{
	"k8s.io/client-go":                     "v0.37.2",
	"k8s.io/api":                           "v0.37.2",
	"k8s.io/apimachinery":                  "v0.37.2",
	"k8s.io/cli-runtime":                   "v0.37.2",
	"sigs.k8s.io/structured-merge-diff/v6": "v6.4.2",
	"sigs.k8s.io/kustomize/api":            "v0.21.2",
	"sigs.k8s.io/kustomize/kyaml":          "v0.21.2",
	"github.com/go-git/go-git/v5":          "v5.19.3",
	"github.com/jackc/pgx/v5":              "v5.12.0",
	"github.com/jackc/tern/v2":             "v2.3.4",
	"github.com/hashicorp/go-hclog":        "v1.6.3",
	"github.com/spf13/cobra":               "v1.10.2",
}

func TestDependencyPins(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for module, want := range pins {
		re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+(\S+)`)
		m := re.FindSubmatch(data)
		if m == nil {
			t.Errorf("go.mod does not require %s (pinned at %s)", module, want)
			continue
		}
		if got := string(m[1]); got != want {
			t.Errorf("go.mod requires %s %s, pinned at %s: run `go get %s@%s` (a go get of an older version of another module may have downgraded it)", module, got, want, module, want)
		}
	}
}

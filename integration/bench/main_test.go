// Package bench measures gantry plan against kubectl diff --server-side on
// the same control plane, in the same run (make bench). It starts its control
// plane only when benchmarks run, so `make test` pays nothing for it.
package bench

import (
	"flag"
	"os"
	"testing"

	"github.com/gantryops/gantry/integration/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(harness.Main(m, &env))
}

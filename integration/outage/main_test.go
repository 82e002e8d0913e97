// Package outage tests how gantry run lives through outages of what it
// depends on — the Git server, the API server, Postgres — on a control plane
// and a Postgres server of its own, since these tests stop and restart them.
// The tests run one at a time for the same reason.
package outage

import (
	"os"
	"testing"

	"github.com/gantryops/gantry/integration/harness"
)

var env *harness.Env

func TestMain(m *testing.M) { os.Exit(harness.Main(m, &env)) }

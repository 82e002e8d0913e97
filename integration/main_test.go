package integration

import (
	"os"
	"testing"

	"github.com/gantryops/gantry/integration/harness"
)

// env is the control plane and Postgres every test in this package shares.
var env *harness.Env

func TestMain(m *testing.M) { os.Exit(harness.Main(m, &env)) }

package runner

import (
	"os"
	"testing"

	"github.com/gantryops/gantry/state/statetest"
)

// pg is the Postgres server of this test binary.
var pg *statetest.Server

func TestMain(m *testing.M) { os.Exit(statetest.Main(m, &pg)) }

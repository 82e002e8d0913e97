package notify_test

import (
	"os"
	"testing"

	"github.com/gantryops/gantry/state/statetest"
)

var srv *statetest.Server

func TestMain(m *testing.M) { os.Exit(statetest.Main(m, &srv)) }

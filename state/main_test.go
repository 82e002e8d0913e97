package state_test

import (
	"os"
	"testing"

	"github.com/gantryops/gantry/state/statetest"
)

var srv *statetest.Server

func TestMain(m *testing.M) {
	if dsn := os.Getenv("GANTRY_TEST_LOCK_DSN"); dsn != "" {
		os.Exit(lockChild(dsn, os.Getenv("GANTRY_TEST_LOCK_PLAN")))
	}
	os.Exit(statetest.Main(m, &srv))
}

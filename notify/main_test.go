package notify_test

import (
	"os"
	"testing"

	"github.com/gantryops/gantry/state/statetest"
)

var srv *statetest.Server

func TestMain(m *testing.M) {
	if dsn := os.Getenv("GANTRY_TEST_NOTIFY_DSN"); dsn != "" {
		os.Exit(notifyChild(dsn, os.Getenv("GANTRY_TEST_NOTIFY_URL")))
	}
	os.Exit(statetest.Main(m, &srv))
}

package state_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gantryops/gantry/state"
	"github.com/gantryops/gantry/state/statetest"
)

var srv *statetest.Server

func TestMain(m *testing.M) {
	if dir := os.Getenv("GANTRY_TEST_ATTACHED_DIR"); dir != "" {
		os.Exit(attachedChild(dir))
	}
	if dsn := os.Getenv("GANTRY_TEST_LOCK_DSN"); dsn != "" {
		os.Exit(lockChild(dsn, os.Getenv("GANTRY_TEST_LOCK_PLAN")))
	}
	os.Exit(statetest.Main(m, &srv))
}

// attachedChild starts an attached server, prints its pid and waits to be killed.
func attachedChild(dir string) int {
	opts := state.DefaultEmbeddedOptions()
	opts.Dir, opts.Fast, opts.Attached = dir, true, true
	e, err := state.NewEmbedded(opts)
	if err == nil {
		_, err = e.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(e.Pid())
	time.Sleep(time.Minute)
	return 0
}

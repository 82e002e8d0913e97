package pgembed_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gantryops/gantry/state/pgembed"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("GANTRY_TEST_ATTACHED_DIR"); dir != "" {
		os.Exit(attachedChild(dir))
	}
	os.Exit(m.Run())
}

// attachedChild starts an attached server, prints its pid and waits to be killed.
func attachedChild(dir string) int {
	opts := pgembed.DefaultOptions()
	opts.Dir, opts.Fast, opts.Attached = dir, true, true
	e, err := pgembed.New(opts)
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

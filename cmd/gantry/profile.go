package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfile starts the profile --profile names (as kubectl's --profile
// does) and returns the function that writes it to --profile-output.
func startProfile(kind, output string) (stop func() error, err error) {
	switch kind {
	case "none", "":
		return func() error { return nil }, nil
	case "cpu":
		f, err := os.Create(output)
		if err != nil {
			return nil, fmt.Errorf("--profile-output: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		return func() error { pprof.StopCPUProfile(); return f.Close() }, nil
	case "heap", "allocs":
		return func() error {
			f, err := os.Create(output)
			if err != nil {
				return fmt.Errorf("--profile-output: %w", err)
			}
			defer f.Close()
			if kind == "heap" {
				runtime.GC() // report live objects
			}
			return pprof.Lookup(kind).WriteTo(f, 0)
		}, nil
	}
	return nil, fmt.Errorf("--profile %q: use none, cpu, heap or allocs", kind)
}

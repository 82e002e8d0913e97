package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
)

// startProfile starts the profile --profile names (as kubectl's --profile
// does) and returns the function that writes it to --profile-output (a
// private file, as planfiles are).
func startProfile(kind, output string) (stop func() error, err error) {
	switch kind {
	case "none", "":
		return func() error { return nil }, nil
	case "cpu":
		f, err := createPrivate(output)
		if err != nil {
			return nil, fmt.Errorf("--profile-output: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Abort()
			return nil, err
		}
		return func() error { pprof.StopCPUProfile(); return f.Commit() }, nil
	case "heap", "allocs":
		return func() error {
			if kind == "heap" {
				runtime.GC() // report live objects
			}
			return writePrivate(output, func(w io.Writer) error { return pprof.Lookup(kind).WriteTo(w, 0) })
		}, nil
	}
	return nil, fmt.Errorf("--profile %q: use none, cpu, heap or allocs", kind)
}

package testcluster

import (
	"os"
	"path/filepath"
)

// FindBinDir returns $GANTRY_TESTCLUSTER_BIN, or the bin/ directory at the
// root of the gantry module found by walking up from the working directory
// (tests run in their package's directory), or "bin".
func FindBinDir() string {
	if d := os.Getenv("GANTRY_TESTCLUSTER_BIN"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return "bin"
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "testcluster", "go.mod")); err == nil {
			return filepath.Join(dir, "bin")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "bin"
		}
		dir = parent
	}
}

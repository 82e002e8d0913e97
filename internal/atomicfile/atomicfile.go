// Package atomicfile writes a file whole or not at all: through a
// temporary file of its own in the same directory, renamed over the
// target, so that a reader (another process sharing a cache) never sees
// half of it, and two writers never share a temporary file.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to path, creating its directory (0700) when needed;
// the file is private to its owner (0600).
func Write(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

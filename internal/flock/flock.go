// Package flock takes exclusive file locks shared between processes.
package flock

import (
	"os"
	"syscall"
)

// Lock takes an exclusive flock on path (created 0600, never through a
// symlink), waiting for another holder; it is held until unlock is called
// or the process exits.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

//go:build !linux

package source

import (
	"os"
	"syscall"
)

// isolatedAttrs: namespaces are Linux's; elsewhere the sandbox runs
// without them (no PATH, no HTTP).
func isolatedAttrs() *syscall.SysProcAttr { return nil }

// plainAttrs start the sandbox as any child.
func plainAttrs() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// watchMemory: without /proc, the sandbox's own soft memory limit
// (debug.SetMemoryLimit) and the timeout bound it.
func watchMemory(*os.Process, int64) (stop func() bool) {
	return func() bool { return false }
}

// namespacesRefused: no namespaces are asked for elsewhere.
func namespacesRefused(error) bool { return false }

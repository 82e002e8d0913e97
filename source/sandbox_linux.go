package source

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
)

// isolatedAttrs start the sandbox in new user and network namespaces: it
// keeps its user and group (mapped to themselves) and sees no network
// device but a loopback that is down. It dies with the thread that
// started it.
func isolatedAttrs() *syscall.SysProcAttr {
	uid, gid := os.Getuid(), os.Getgid()
	return &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
	}
}

// plainAttrs start the sandbox without namespaces.
func plainAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// memoryPoll is how often the sandbox's resident memory is read.
const memoryPoll = 10 * time.Millisecond

// watchMemory kills p once its resident memory (from /proc/PID/statm)
// passes limit. stop ends the watch and reports whether p was killed for
// its memory.
func watchMemory(p *os.Process, limit int64) (stop func() bool) {
	if limit <= 0 {
		return func() bool { return false }
	}
	done, result := make(chan struct{}), make(chan bool, 1)
	statm := "/proc/" + strconv.Itoa(p.Pid) + "/statm"
	page := int64(os.Getpagesize())
	go func() {
		t := time.NewTicker(memoryPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				result <- false
				return
			case <-t.C:
			}
			if residentPages(statm)*page > limit {
				_ = p.Kill() // by pidfd where the kernel has them: never another process
				result <- true
				return
			}
		}
	}()
	return func() bool {
		close(done)
		return <-result
	}
}

// residentPages reads the second field of /proc/PID/statm (0 when gone).
func residentPages(statm string) int64 {
	data, err := os.ReadFile(statm)
	if err != nil {
		return 0
	}
	fields := bytes.Fields(data)
	if len(fields) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(string(fields[1]), 10, 64)
	return n
}

// namespacesRefused reports whether err, from starting a process in new
// user and network namespaces, is the kernel refusing them for good:
// EPERM (unprivileged user namespaces disabled, or a seccomp filter),
// EACCES (a uid map refused), EINVAL and ENOSYS (not built in), ENOSPC
// and EUSERS (user.max_user_namespaces is 0, or nesting too deep).
func namespacesRefused(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.EACCES, syscall.EINVAL, syscall.ENOSYS, syscall.ENOSPC, syscall.EUSERS} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

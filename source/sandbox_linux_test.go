package source

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestIsolatedAttrsHaveNoNetwork starts processes as the sandbox is
// started: they see no network device but loopback, and cannot reach a
// listener on this host's loopback.
func TestIsolatedAttrsHaveNoNetwork(t *testing.T) {
	cmd := exec.Command("cat", "/proc/self/net/dev")
	cmd.SysProcAttr, cmd.Env = isolatedAttrs(), []string{}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("start in new user and network namespaces (the sandbox falls back without them, the test may not): %v\n%s", err, out)
	}
	var devices []string
	for _, line := range strings.Split(string(out), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(line, "|") {
			devices = append(devices, strings.TrimSpace(name))
		}
	}
	if len(devices) != 1 || devices[0] != "lo" {
		t.Errorf("devices in the sandbox's namespace: %v, want only lo\n%s", devices, out)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	dial := exec.Command("bash", "-c", "exec 3<>/dev/tcp/"+host+"/"+port)
	dial.SysProcAttr, dial.Env = isolatedAttrs(), []string{}
	out, err = dial.CombinedOutput()
	if err == nil {
		t.Errorf("a process in the sandbox's namespaces connected to %s", ln.Addr())
	}
	t.Logf("connect from the namespace: %v: %s", err, out)
	select {
	case <-accepted:
		t.Error("the listener accepted a connection from the sandbox's namespaces")
	default:
	}
}

// probeSandbox starts the sandbox as a render does and returns what it
// sees of its host.
func probeSandbox(t *testing.T, ctx context.Context) (sandboxProbe, error) {
	t.Helper()
	var p sandboxProbe
	err := runSandbox(ctx, sandboxRequest{Probe: true}, DefaultRenderOptions(), func(out *bufio.Reader) error {
		if _, err := out.ReadSlice('\n'); err != nil { // header
			return err
		}
		if _, err := out.ReadSlice('\n'); err != nil { // length
			return err
		}
		return json.NewDecoder(out).Decode(&p)
	})
	return p, err
}

// TestSandboxRunsInNewNamespaces starts the sandbox as renders do and asks
// it what it sees: another user namespace and another network namespace
// than this process's, and no network interface but a loopback that is
// down.
func TestSandboxRunsInNewNamespaces(t *testing.T) {
	p, err := probeSandbox(t, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the sandbox sees %+v", p)
	for _, ns := range []struct{ name, inside string }{{"user", p.UserNamespace}, {"net", p.NetNamespace}} {
		here, err := os.Readlink("/proc/self/ns/" + ns.name)
		if err != nil {
			t.Fatal(err)
		}
		if ns.inside == "" || ns.inside == here {
			t.Errorf("the sandbox's %s namespace is %q, this process's %q: want a new one", ns.name, ns.inside, here)
		}
	}
	if len(p.Interfaces) != 1 || !strings.HasPrefix(p.Interfaces[0], "lo ") || strings.Contains(p.Interfaces[0], "up") {
		t.Errorf("the sandbox's interfaces: %q, want only lo, down", p.Interfaces)
	}
}

// TestCanceledRenderKeepsNamespaces starts the sandbox with a context
// already ended: the start fails, and the next render still runs in new
// namespaces (a canceled render once turned them off for the process).
func TestCanceledRenderKeepsNamespaces(t *testing.T) {
	if namespaces.unavailable() {
		t.Fatalf("namespaces already off: %v", namespaces.refusal)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := probeSandbox(t, ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context canceled", err)
	}
	if namespaces.unavailable() {
		t.Fatalf("a canceled start turned namespaces off: %v", namespaces.refusal)
	}
	p, err := probeSandbox(t, context.Background())
	if here, _ := os.Readlink("/proc/self/ns/net"); err != nil || p.NetNamespace == here {
		t.Errorf("after a canceled start: %+v, %v; want a new network namespace", p, err)
	}
}

// TestNamespacesRefused decides which failures to start a process in new
// namespaces turn them off for the process: only the kernel's refusals.
func TestNamespacesRefused(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.EPERM}, true},
		{&os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.EINVAL}, true},
		{&os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.ENOSPC}, true},
		{&os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.EUSERS}, true},
		{&os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.EAGAIN}, false},
		{&os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.ENOMEM}, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
	} {
		if got := namespacesRefused(tc.err); got != tc.want {
			t.Errorf("namespacesRefused(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

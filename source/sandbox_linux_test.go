package source

import (
	"net"
	"os/exec"
	"strings"
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

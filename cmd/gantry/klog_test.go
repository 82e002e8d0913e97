package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"k8s.io/klog/v2"
)

// TestKlogRouted: client-go's klog lines come out of gantry's logger, in its
// format (JSON here) and at its level.
func TestKlogRouted(t *testing.T) {
	var buf bytes.Buffer
	routeKlog(hclog.New(&hclog.LoggerOptions{Name: "gantry", Level: hclog.Debug, JSONFormat: true, Output: &buf}))
	defer klog.ClearLogger()
	klog.InfoS("watch restarted", "resource", "configmaps")
	klog.V(4).InfoS("verbose detail")
	klog.ErrorS(errors.New("connection refused"), "list failed", "resource", "services")
	klog.Flush()

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2 (the V(4) line is below debug):\n%s", len(lines), buf.String())
	}
	var info, failure map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &info); err != nil {
		t.Fatalf("not JSON: %q", lines[0])
	}
	if err := json.Unmarshal([]byte(lines[1]), &failure); err != nil {
		t.Fatalf("not JSON: %q", lines[1])
	}
	if info["@message"] != "watch restarted" || info["@level"] != "debug" || info["resource"] != "configmaps" || info["@module"] != "gantry.client-go" {
		t.Errorf("info line = %v", info)
	}
	if failure["@level"] != "error" || failure["error"] != "connection refused" || failure["resource"] != "services" {
		t.Errorf("error line = %v", failure)
	}
}

package apply

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// TestComputeStatus: readiness of well-formed objects is kstatus's, and
// an object whose status has the wrong types (which kstatus panics on for
// some kinds) is Unknown.
func TestComputeStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc string
		want      status.Status
	}{
		{"a ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n", status.CurrentStatus},
		{"a running Pod, ready", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nstatus: {phase: Running, conditions: [{type: Ready, status: \"True\"}]}\n", status.CurrentStatus},
		{"a crash-looping Pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nstatus: {phase: Running, containerStatuses: [{name: c, state: {waiting: {reason: CrashLoopBackOff}}}]}\n", status.FailedStatus},
		{"a Pod whose containerStatuses are numbers", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nstatus: {phase: Running, containerStatuses: [1]}\n", status.UnknownStatus},
		{"a Pod whose container name is a number", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nstatus: {phase: Running, containerStatuses: [{name: 1, state: {}}]}\n", status.UnknownStatus},
		{"a Pod whose waiting reason is a number", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nstatus: {phase: Running, containerStatuses: [{name: c, state: {waiting: {reason: 5}}}]}\n", status.UnknownStatus},
		{"conditions that are a string", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: n}\nstatus: {conditions: ready}\n", status.UnknownStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := computeStatus(readObject(t, []byte(tc.doc))); got != string(tc.want) {
				t.Errorf("status = %s, want %s", got, tc.want)
			}
		})
	}
}

// FuzzReadiness computes the readiness of objects of any shape, with status
// of the wrong types (testdata/readiness): it never panics, and is one of
// kstatus's statuses. `go test -fuzz FuzzReadiness ./apply` explores.
func FuzzReadiness(f *testing.F) {
	seeds, err := filepath.Glob("testdata/readiness/*.yaml")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/readiness: %v", err)
	}
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	known := map[string]bool{}
	for _, s := range []status.Status{status.InProgressStatus, status.FailedStatus, status.CurrentStatus, status.TerminatingStatus, status.NotFoundStatus, status.UnknownStatus} {
		known[string(s)] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, ok := decodeObject(data)
		if !ok {
			return
		}
		if got := computeStatus(u); !known[got] {
			t.Errorf("status %q is not a kstatus status", got)
		}
	})
}

func readObject(t *testing.T, data []byte) *unstructured.Unstructured {
	t.Helper()
	u, ok := decodeObject(data)
	if !ok {
		t.Fatalf("not an object: %s", data)
	}
	return u
}

// decodeObject reads YAML or JSON into unstructured content (integers as
// int64, as the API client decodes them).
func decodeObject(data []byte) (*unstructured.Unstructured, bool) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if err := utiljson.Unmarshal(js, &m); err != nil || m == nil {
		return nil, false
	}
	return &unstructured.Unstructured{Object: m}, true
}

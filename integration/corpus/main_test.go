// Package corpus holds end-to-end tests that plan and apply the real-world
// manifests of testdata/corpus. They run on a control plane of their own:
// kube-prometheus registers an APIService whose backing Pods never run here,
// which leaves discovery of metrics.k8s.io failing for the rest of the
// control plane's life.
package corpus

import (
	"os"
	"testing"

	"github.com/gantryops/gantry/integration/harness"
)

var env *harness.Env

func TestMain(m *testing.M) { os.Exit(harness.Main(m, &env)) }

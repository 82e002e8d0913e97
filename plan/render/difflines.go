package render

import (
	"github.com/gantryops/gantry/plan"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DiffLines returns the unified YAML diff of two views, as the text plan
// shows a change.
func DiffLines(before, after *unstructured.Unstructured) []string {
	return diffLines(plan.Change{Before: before, After: after})
}

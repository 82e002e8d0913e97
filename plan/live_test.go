package plan

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/crash"
	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/object"
)

// TestLiveObjectOfWrongTypes: a live object the plan is about, with a value
// of the wrong type at a field the planner reads (labels, annotations,
// managed fields, owner references, a ConfigMap's data), is refused with an
// error naming the object and the field. unstructured's getters would read
// such a field as absent: labels {gantry.dev/stack: 5} would make another
// stack's object look unowned and be adopted, and managed fields that are
// not a list would hide every other manager's fields. A live object the plan
// is not about is not read, whatever its shape.
func TestLiveObjectOfWrongTypes(t *testing.T) {
	t.Parallel()
	const desired = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: web}\ndata: {k: v}\n"
	live := func(metadata string, rest ...string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: web, resourceVersion: '7', uid: u1" + metadata + "}\n" + strings.Join(rest, "")
	}
	for _, tc := range []struct {
		name    string
		live    string
		wantErr string // "" when the plan must succeed
	}{
		{"well typed", live(", labels: {gantry.dev/stack: other}"), ""},
		{"a label that is a number", live(", labels: {gantry.dev/stack: 5}"), "metadata.labels.gantry.dev/stack must be a string"},
		{"labels that are a list", live(", labels: [gantry.dev/stack]"), "metadata.labels must be a mapping"},
		{"annotations that are a string", live(", annotations: x"), "metadata.annotations must be a mapping"},
		{"managed fields that are a mapping", live(", managedFields: {manager: kubectl}"), "metadata.managedFields must be a list"},
		{"a managed fields entry that is a number", live(", managedFields: [5]"), "metadata.managedFields[0] must be a mapping"},
		{"fieldsV1 that is a string", live(", managedFields: [{manager: kubectl, operation: Update, fieldsType: FieldsV1, fieldsV1: 'f:data'}]"), "metadata.managedFields[0].fieldsV1 must be a mapping"},
		{"owner references that are a string", live(", ownerReferences: x"), "metadata.ownerReferences"},
		{"data holding a number", live("", "data: {k: 1}\n"), "data.k must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			other := objtest.Parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-mine, namespace: web, labels: 5}\n")
			c := &memCluster{live: []*unstructured.Unstructured{objtest.Parse(t, tc.live), other}}
			in := Input{Stack: "me", Objects: []*unstructured.Unstructured{objtest.Parse(t, desired)}, Key: object.HashKey("salt"), Mode: DiffServer,
				Options: Options{Namespace: "web"}}
			res, err := NewPlanner(c, PlannerOptions{Concurrency: 2}).Compute(context.Background(), in)
			if errors.As(err, new(*crash.Error)) {
				t.Fatalf("planning panicked: %v", err)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("plan: %v", err)
				}
				if len(res.Plan.Changes) != 1 || res.Plan.Changes[0].Owner != "other" {
					t.Errorf("changes = %+v, want one change of an object owned by stack other", res.Plan.Changes)
				}
				return
			}
			if err == nil {
				t.Fatalf("plan succeeded with changes %+v; want it refused: %s", res.Plan.Changes, tc.wantErr)
			}
			for _, want := range []string{"live object ConfigMap/web/a", tc.wantErr} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

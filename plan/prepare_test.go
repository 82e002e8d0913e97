package plan

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/object"
)

// crdDoc is a CRD of widgets.prep.example.com with the given versions.
func crdDoc(versions string) string {
	return "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.prep.example.com}\n" +
		"spec: {group: prep.example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced, versions: " + versions + "}\n"
}

// TestPrepareServedVersions: a custom resource of a kind a CRD in the
// revision defines must be of a version that CRD serves. Before, a version
// listed with served: false was planned as verified at apply, and the
// apply failed on it after creating the CRD and the other objects.
func TestPrepareServedVersions(t *testing.T) {
	t.Parallel()
	widget := func(version string) string {
		return "apiVersion: prep.example.com/" + version + "\nkind: Widget\nmetadata: {name: w}\n"
	}
	cases := []struct {
		name     string
		versions string
		widget   string
		want     string // in the error; "" plans a create verified at apply
	}{
		{"served", "[{name: v1, served: true, storage: true}]", widget("v1"), ""},
		{"one of two served", "[{name: v1, served: true, storage: true}, {name: v2, served: true}]", widget("v2"), ""},
		{"served: false", "[{name: v1, served: true, storage: true}, {name: v2, served: false}]", widget("v2"),
			"Widget.prep.example.com/w: its CustomResourceDefinition widgets.prep.example.com in this revision does not serve version v2 (it is not listed, or served: false; it serves v1)"},
		{"served left out", "[{name: v1, storage: true}]", widget("v1"), "does not serve version v1 (it is not listed, or served: false; it serves no version)"},
		{"not listed", "[{name: v1, served: true, storage: true}]", widget("v3"), "does not serve version v3"},
		{"served of the wrong type", "[{name: v1, served: 'yes', storage: true}]", widget("v1"), "spec.versions[0].served must be true or false, found a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := []*unstructured.Unstructured{objtest.Parse(t, crdDoc(tc.versions)), objtest.Parse(t, tc.widget)}
			in := Input{Stack: "s", Objects: objs, Key: object.HashKey("k"), Mode: DiffServer, Options: Options{Namespace: "n"}}
			res, err := NewPlanner(&memCluster{}, PlannerOptions{Concurrency: 2}).Compute(context.Background(), in)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Plan.Changes {
				if c.Ref.Kind == "Widget" && (c.Action != ActionCreate || c.VerifiedAtApply == "") {
					t.Errorf("%s: %s, verified at apply %q; want a create verified at apply", c.Ref, c.Action, c.VerifiedAtApply)
				}
			}
		})
	}
}

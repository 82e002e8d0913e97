package integration

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/integration/harness"
)

// parseObjects decodes YAML documents into objects.
func parseObjects(t testing.TB, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	out := make([]*unstructured.Unstructured, len(docs))
	for i, d := range docs {
		out[i] = &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &out[i].Object); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
	}
	return out
}

// testdataObjects renders a file of testdata/ as a revision.
func testdataObjects(t testing.TB, name string) []*unstructured.Unstructured {
	t.Helper()
	return harness.Render(t, filepath.Join("testdata", name))
}

var (
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	secrets     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
)

func patchAs(t testing.TB, s *harness.Stack, gvr schema.GroupVersionResource, name, manager, subresource string, patch any) {
	t.Helper()
	body, _ := json.Marshal(patch)
	var sub []string
	if subresource != "" {
		sub = []string{subresource}
	}
	_, err := s.Dynamic.Resource(gvr).Namespace(s.Def.Target.Namespace).Patch(context.Background(), name, types.MergePatchType, body,
		metav1.PatchOptions{FieldManager: manager}, sub...)
	if err != nil {
		t.Fatalf("patch %s %s as %s: %v", gvr.Resource, name, manager, err)
	}
}

func TestPlanFidelity(t *testing.T) {
	t.Parallel()
	setImage := func(name, image string) func([]*unstructured.Unstructured) {
		return func(objs []*unstructured.Unstructured) {
			for _, u := range objs {
				if u.GetKind() == "Deployment" && u.GetName() == name {
					containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
					containers[0].(map[string]any)["image"] = image
					_ = unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers")
				}
			}
		}
	}
	for _, c := range []struct {
		file   string
		edit   func(testing.TB, *harness.Stack)
		noop   bool
		change func([]*unstructured.Unstructured)
	}{
		{file: "defaults.yaml", change: setImage("defaults", "nginx:1.28")},
		{file: "quantity.yaml", change: func(objs []*unstructured.Unstructured) {
			containers, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
			containers[0].(map[string]any)["resources"].(map[string]any)["limits"].(map[string]any)["cpu"] = "2000m"
			_ = unstructured.SetNestedSlice(objs[0].Object, containers, "spec", "template", "spec", "containers")
		}},
		{file: "service.yaml", change: func(objs []*unstructured.Unstructured) {
			ports, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "ports")
			ports[1].(map[string]any)["targetPort"] = int64(9091)
			_ = unstructured.SetNestedSlice(objs[0].Object, ports, "spec", "ports")
		}},
		{file: "crd.yaml", change: func(objs []*unstructured.Unstructured) {
			for _, u := range objs {
				if u.GetKind() == "Widget" {
					_ = unstructured.SetNestedField(u.Object, int64(5), "spec", "size")
				}
			}
		}},
		{file: "secret.yaml",
			edit: func(t testing.TB, s *harness.Stack) {
				patchAs(t, s, secrets, "db", "kubectl-edit", "", map[string]any{"data": map[string]any{"password": "ZWRpdGVk"}})
			},
			change: func(objs []*unstructured.Unstructured) {
				_ = unstructured.SetNestedField(objs[0].Object, "rotated-not-a-real-password", "stringData", "password")
			}},
		{file: "hpa.yaml",
			// The autoscaler scales the Deployment: replicas are not gantry's.
			edit: func(t testing.TB, s *harness.Stack) {
				patchAs(t, s, deployments, "scaled", "horizontal-pod-autoscaler", "scale", map[string]any{"spec": map[string]any{"replicas": 4}})
			},
			noop:   true,
			change: setImage("scaled", "nginx:1.28")},
	} {
		name := strings.TrimSuffix(c.file, ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env.CheckFidelity(t, harness.FidelityCase{
				Name:       "fidelity-" + name,
				Objects:    testdataObjects(t, filepath.Join("fidelity", c.file)),
				Namespace:  env.Namespace(t),
				Edit:       c.edit,
				EditIsNoop: c.noop,
				Change:     c.change,
			})
		})
	}
}

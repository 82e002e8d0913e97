package source_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/source"
)

// opaqueDeployment is an OpenAPI schema in which a Deployment's spec is an
// object of unknown fields: strategic merge patches replace its lists.
const opaqueDeployment = `{"definitions": {"io.k8s.api.apps.v1.Deployment": {
  "type": "object",
  "properties": {"spec": {"type": "object"}},
  "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}]}}}`

// TestRenderInProcessSchemaDoesNotLeak renders, in this process, a
// kustomization with a custom OpenAPI schema (a Deployment's spec opaque),
// then another without one: kustomize keeps the schema in a global, and
// the second render must merge its patch by the built-in schema (the
// container's name is its merge key: the image stays), not by the first
// render's (the list is replaced and the image lost).
func TestRenderInProcessSchemaDoesNotLeak(t *testing.T) {
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: app, image: nginx}\n"
	c := commitAndFetch(t, map[string]string{
		"custom/kustomization.yaml": "resources: [cm.yaml]\nopenapi:\n  path: schema.json\n",
		"custom/cm.yaml":            configMap("a", "1"),
		"custom/schema.json":        opaqueDeployment,
		"app/kustomization.yaml":    "resources: [deployment.yaml]\npatches:\n- patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: app}\n    spec:\n      template:\n        spec:\n          containers:\n          - {name: app, env: [{name: A, value: b}]}\n",
		"app/deployment.yaml":       deployment,
	})
	opts := source.DefaultRenderOptions()
	opts.AllowRemoteBases = true // in this process
	for _, p := range []string{"app", "custom", "app"} {
		rev, err := c.Render(context.Background(), p, opts)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if p != "app" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(rev.Objects[0].Object, "spec", "template", "spec", "containers")
		if len(containers) != 1 || containers[0].(map[string]any)["image"] != "nginx" {
			t.Errorf("%s: containers %v, want the patch merged into the container (image kept)", p, containers)
		}
	}
}

package kube

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestCRDAllowsItems: a CustomResourceDefinition lets its objects carry a
// top-level items field (and its resource is then never watched) when any
// version's root schema keeps unknown fields, allows any field or declares
// items, when a version has no schema, or when the CRD cannot be read as one;
// a schema that declares only other fields does not, whatever it allows
// below the top level.
func TestCRDAllowsItems(t *testing.T) {
	t.Parallel()
	version := func(name, schema string) string {
		return "{name: " + name + ", served: true, storage: true, schema: {openAPIV3Schema: " + schema + "}}"
	}
	strict := version("v1", "{type: object, properties: {spec: {type: object, x-kubernetes-preserve-unknown-fields: true, properties: {items: {type: array}}}}}")
	for _, tc := range []struct {
		name, spec string
		want       string // part of the reason; "" when the objects cannot carry items
	}{
		{"declares other fields only", "{versions: [" + strict + "]}", ""},
		{"keeps unknown fields at the root", "{versions: [" + version("v1", "{type: object, x-kubernetes-preserve-unknown-fields: true}") + "]}", `version "v1" keeps unknown fields`},
		{"declares items", "{versions: [" + version("v1", "{type: object, properties: {items: {type: string}}}") + "]}", "declares a top-level items field"},
		{"allows any field", "{versions: [" + version("v1", "{type: object, additionalProperties: true}") + "]}", "allows any top-level field"},
		{"one version of two", "{versions: [" + strict + ", " + version("v2", "{type: object, x-kubernetes-preserve-unknown-fields: true}") + "]}", `version "v2"`},
		{"a version without a schema", "{versions: [{name: v1, served: true, storage: true}]}", "has no schema"},
		{"preserveUnknownFields", "{preserveUnknownFields: true, versions: [" + strict + "]}", "spec.preserveUnknownFields"},
		{"versions of the wrong type", "{versions: [v1]}", "spec.versions[0] must be a mapping"},
		{"versions not a list", "{versions: v1}", "spec.versions must be a list"},
		{"spec not a mapping", "x", "spec must be a mapping"},
		{"a schema of the wrong type", "{versions: [{name: v1, schema: {openAPIV3Schema: [x]}}]}", "is not a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var obj map[string]any
			if err := yaml.Unmarshal([]byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: "+tc.spec+"\n"), &obj); err != nil {
				t.Fatal(err)
			}
			got := crdAllowsItems(&unstructured.Unstructured{Object: obj})
			if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) {
				t.Errorf("crdAllowsItems = %q, want %q", got, tc.want)
			}
		})
	}
}

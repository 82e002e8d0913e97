package object_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
)

func obj(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }

func TestRefString(t *testing.T) {
	t.Parallel()
	for want, ref := range map[string]object.Ref{
		"Deployment.apps/web/frontend": {Group: "apps", Kind: "Deployment", Namespace: "web", Name: "frontend"},
		"Namespace/web":                {Kind: "Namespace", Name: "web"},
		"ConfigMap/default/cm":         {Kind: "ConfigMap", Namespace: "default", Name: "cm"},
	} {
		if got := ref.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", ref, got, want)
		}
	}
}

func TestHashIgnoresKeyOrderButNotValues(t *testing.T) {
	t.Parallel()
	a := obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "namespace": "n"}})
	b := obj(map[string]any{"metadata": map[string]any{"namespace": "n", "name": "x"}, "kind": "ConfigMap", "apiVersion": "v1"})
	c := obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "y", "namespace": "n"}})
	key := object.HashKey("test key")
	ha, _ := key.HashOf(a)
	hb, _ := key.HashOf(b)
	hc, _ := key.HashOf(c)
	if ha != hb {
		t.Errorf("same object, different hashes: %s %s", ha, hb)
	}
	if ha == hc {
		t.Errorf("different objects, same hash %s", ha)
	}
	if !strings.HasPrefix(ha.String(), "sha256:") || len(ha.String()) != 71 {
		t.Errorf("Hash.String() = %q", ha)
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	secret := obj(map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "db", "namespace": "n", "annotations": map[string]any{
			"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"aHVudGVyMg=="}}`,
		}},
		"data":       map[string]any{"password": "aHVudGVyMg=="},
		"stringData": map[string]any{"token": "hunter2"},
	})
	red := object.Redacted(secret)
	js, _ := object.Canonical(red)
	for _, leak := range []string{"aHVudGVyMg==", "hunter2"} {
		if strings.Contains(string(js), leak) {
			t.Errorf("redacted Secret still holds %q: %s", leak, js)
		}
	}
	if !strings.Contains(string(js), `"password":"(sensitive value)"`) || !strings.Contains(string(js), `"token":"(sensitive value)"`) {
		t.Errorf("redacted Secret lost its keys: %s", js)
	}
	if orig, _ := object.Canonical(secret); !strings.Contains(string(orig), "hunter2") {
		t.Error("Redacted modified its argument")
	}
	cm := obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}, "data": map[string]any{"k": "v"}})
	if object.Redacted(cm) != cm {
		t.Error("a ConfigMap was copied or changed")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		obj  map[string]any
		want string
	}{
		"ok":            {map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}}, ""},
		"no kind":       {map[string]any{"apiVersion": "v1", "metadata": map[string]any{"name": "x"}}, "missing kind"},
		"nothing":       {map[string]any{}, "missing apiVersion, kind, metadata.name"},
		"generate name": {map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"generateName": "x-"}}, "generateName is not supported"},
	} {
		err := object.Validate(obj(tc.obj))
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate = %v, want %q", name, err, tc.want)
		}
	}
}

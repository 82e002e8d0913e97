package object_test

import (
	"fmt"
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

func TestValidate(t *testing.T) {
	t.Parallel()
	cm := func(md any, extra ...any) map[string]any {
		m := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	named := func(kv ...any) map[string]any {
		md := map[string]any{"name": "x"}
		for i := 0; i+1 < len(kv); i += 2 {
			md[kv[i].(string)] = kv[i+1]
		}
		return md
	}
	for _, tc := range []struct {
		name string
		obj  map[string]any
		want string // "" when valid
	}{
		{"ok", cm(named()), ""},
		{"ok with everything", cm(named("namespace", "n", "labels", map[string]any{"a": "1"}, "annotations", map[string]any{"b": ""},
			"finalizers", []any{"f"}, "ownerReferences", []any{map[string]any{"apiVersion": "v1", "kind": "K", "name": "o", "uid": "u", "controller": true}},
			"creationTimestamp", nil, "generation", int64(2)), "data", map[string]any{"k": "v"}), ""},
		{"no kind", map[string]any{"apiVersion": "v1", "metadata": named()}, "missing kind"},
		{"nothing", map[string]any{}, "missing apiVersion, kind, metadata.name"},
		{"generate name", map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"generateName": "x-"}}, "generateName is supported for hooks only (helm.sh/hook)"},
		{"generate name of a hook", map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"generateName": "migrate-", "annotations": map[string]any{"helm.sh/hook": "pre-upgrade"}}}, ""},
		{"generate name of a hook, bad", map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"generateName": "a/b-", "annotations": map[string]any{"helm.sh/hook": "pre-upgrade"}}}, `metadata.generateName "a/b-": may not contain '/'`},
		{"generate name of a hook, too long", map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"generateName": strings.Repeat("g", 250), "annotations": map[string]any{"helm.sh/hook": "pre-upgrade"}}}, "at most 248"},
		{"kind a number", map[string]any{"apiVersion": "v1", "kind": int64(3), "metadata": named()}, "kind must be a string, found the number 3"},
		{"apiVersion a mapping", map[string]any{"apiVersion": map[string]any{}, "kind": "K", "metadata": named()}, "apiVersion must be a string, found a mapping"},
		{"apiVersion not a group/version", map[string]any{"apiVersion": "a/b/c", "kind": "K", "metadata": named()}, `apiVersion "a/b/c" is not a group/version`},
		{"metadata a list", cm([]any{"x"}), "metadata must be a mapping, found a list"},
		{"name a boolean", cm(map[string]any{"name": true}), "metadata.name must be a string, found the boolean true"},
		{"namespace a number", cm(named("namespace", float64(1.5))), "metadata.namespace must be a string, found the number 1.5"},
		{"label a number", cm(named("labels", map[string]any{"app": "web", "version": int64(2)})), `metadata.labels.version must be a string, found the number 2: quote the value, e.g. "2"`},
		{"label null", cm(named("labels", map[string]any{"app": nil})), "metadata.labels.app has no value (null)"},
		{"labels a string", cm(named("labels", "app=web")), "metadata.labels must be a mapping of strings, found a string"},
		{"annotation a mapping", cm(named("annotations", map[string]any{"a": map[string]any{}})), "metadata.annotations.a must be a string, found a mapping"},
		{"finalizers a string", cm(named("finalizers", "f")), "metadata.finalizers must be a list of strings"},
		{"finalizer a number", cm(named("finalizers", []any{int64(1)})), "metadata.finalizers[0] must be a string"},
		{"owner references a mapping", cm(named("ownerReferences", map[string]any{})), "metadata.ownerReferences must be a list"},
		{"owner reference a string", cm(named("ownerReferences", []any{"o"})), "metadata.ownerReferences[0] must be a mapping"},
		{"owner reference uid a number", cm(named("ownerReferences", []any{map[string]any{"uid": int64(5)}})), "metadata.ownerReferences[0].uid must be a string"},
		{"owner reference controller a string", cm(named("ownerReferences", []any{map[string]any{"controller": "yes"}})), "metadata.ownerReferences[0].controller must be true or false"},
		{"unknown metadata field", cm(named("lables", map[string]any{})), "metadata.lables: unknown field"},
		{"generation a string", cm(named("generation", "one")), "metadata.generation must be an integer, found a string"},
		{"generation a fraction", cm(named("generation", 1.5)), "metadata.generation must be an integer, found the number 1.5"},
		{"creationTimestamp not a time", cm(named("creationTimestamp", "yesterday")), `metadata.creationTimestamp must be a time (RFC 3339, e.g. 2026-01-02T15:04:05Z), found "yesterday"`},
		{"deletionTimestamp a number", cm(named("deletionTimestamp", int64(1))), "metadata.deletionTimestamp must be a time"},
		{"managed fields a mapping", cm(named("managedFields", map[string]any{})), "metadata.managedFields must be a list, found a mapping"},
		{"managed fields of the wrong shape", cm(named("managedFields", []any{"m"})), "metadata.managedFields[0] must be a mapping, found a string"},
		{"a managed-field manager a number", cm(named("managedFields", []any{map[string]any{"manager": int64(1)}})), "metadata.managedFields[0].manager must be a string"},
		{"managed fieldsV1 a string", cm(named("managedFields", []any{map[string]any{"manager": "m", "fieldsV1": "f:data"}})), "metadata.managedFields[0].fieldsV1 must be a mapping"},
		{"a managed-field time not a time", cm(named("managedFields", []any{map[string]any{"time": "noon"}})), "metadata.managedFields[0].time must be a time"},
		{"valid managed fields", cm(named("managedFields", []any{map[string]any{"manager": "gantry", "operation": "Apply", "apiVersion": "v1", "time": "2026-01-01T00:00:00Z",
			"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:data": map[string]any{}}}}, "creationTimestamp", "2026-01-01T00:00:00Z", "generation", float64(3))), ""},
		{"ConfigMap data a number", cm(named(), "data", map[string]any{"port": int64(80)}), "data.port must be a string"},
		{"ConfigMap binaryData a list", cm(named(), "binaryData", []any{}), "binaryData must be a mapping of strings"},
		{"Secret data a string", map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": named(), "data": "c2VjcmV0"}, "data must be a mapping of strings, found a string"},
		{"Secret stringData a number", map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": named(), "stringData": map[string]any{"PIN": int64(918273)}}, "stringData.PIN must be a string"},
		{"a custom kind's data is its own", map[string]any{"apiVersion": "example.com/v1", "kind": "Secret", "metadata": named(), "data": int64(1)}, ""},
		// Names, labels and annotations no API server accepts, whatever the
		// kind: refused before any plan, and quoted so that they print as text.
		{"name with an escape sequence", cm(named("name", "web\x1b[2K\rNo changes.")), `metadata.name "web\x1b[2K\rNo changes.": must not contain control or bidirectional characters`},
		{"name with a right-to-left override", cm(named("name", "cm-\u202etxt.exe")), `metadata.name "cm-\u202etxt.exe"`},
		{"name with a slash", cm(named("name", "a/b")), `metadata.name "a/b": may not contain '/'`},
		{"name dot dot", cm(named("name", "..")), `metadata.name "..": may not be '..'`},
		{"RBAC-style name with a colon", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": "system:gantry"}}, ""},
		{"namespace not a DNS label", cm(named("namespace", "Team_A")), `metadata.namespace "Team_A": a lowercase RFC 1123 label`},
		{"label value with a space", cm(named("labels", map[string]any{"app": "my app"})), `metadata.labels "my app": a valid label must be`},
		{"label key with two slashes", cm(named("labels", map[string]any{"a/b/c": "x"})), `metadata.labels "a/b/c"`},
		{"label value too long", cm(named("labels", map[string]any{"app": strings.Repeat("a", 64)})), "must be no more than 63 bytes"},
		{"annotation key with a space", cm(named("annotations", map[string]any{"my note": "x"})), `metadata.annotations "my note"`},
		{"annotations over 256 KiB", cm(named("annotations", map[string]any{"big": strings.Repeat("a", 256<<10)})), "the annotations take more than 262144 bytes in all"},
		{"kind with a space", map[string]any{"apiVersion": "v1", "kind": "Config Map", "metadata": named()}, `kind "Config Map" is not a kind name`},
		{"group not a DNS name", map[string]any{"apiVersion": "Example_Group/v1", "kind": "K", "metadata": named()}, `apiVersion "Example_Group/v1" is not a group/version`},
		{"version not a version", map[string]any{"apiVersion": "example.com/V 1", "kind": "K", "metadata": named()}, `apiVersion "example.com/V 1" is not a group/version`},
		{"every problem at once", cm(map[string]any{"name": int64(1), "labels": map[string]any{"a": int64(1), "b": false}}), `metadata.name must be a string, found the number 1: quote the value, e.g. "1"; metadata.labels.a must be a string, found the number 1: quote the value, e.g. "1"; metadata.labels.b must be a string, found the boolean false`},
	} {
		err := object.Validate(obj(tc.obj))
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	o := map[string]any{"spec": map[string]any{"group": "g", "count": int64(2), "names": "x", "versions": []any{"v1"}, "none": nil}}
	for _, tc := range []struct {
		name    string
		read    func() (any, error)
		want    any
		wantErr string
	}{
		{"a string", func() (any, error) { return object.StringField(o, "spec", "group") }, "g", ""},
		{"an absent string", func() (any, error) { return object.StringField(o, "spec", "scope") }, "", ""},
		{"a null string", func() (any, error) { return object.StringField(o, "spec", "none") }, "", ""},
		{"a number for a string", func() (any, error) { return object.StringField(o, "spec", "count") }, "", "spec.count must be a string, found the number 2"},
		{"through a string", func() (any, error) { return object.StringField(o, "spec", "names", "kind") }, "", "spec.names must be a mapping, found a string"},
		{"through a null", func() (any, error) { return object.StringField(o, "spec", "none", "kind") }, "", ""},
		{"a list", func() (any, error) { return object.ListField(o, "spec", "versions") }, []any{"v1"}, ""},
		{"an absent list", func() (any, error) { return object.ListField(o, "status", "conditions") }, []any(nil), ""},
		{"a string for a list", func() (any, error) { return object.ListField(o, "spec", "group") }, []any(nil), "spec.group must be a list, found a string"},
	} {
		got, err := tc.read()
		if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
		}
		if err == nil && fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

package ssa

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/sensitive"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

func set(t *testing.T, fieldsV1 string) *fieldpath.Set {
	t.Helper()
	s := &fieldpath.Set{}
	if err := s.FromJSON(bytes.NewReader([]byte(fieldsV1))); err != nil {
		t.Fatal(err)
	}
	return s
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, team: other}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - {name: web, image: "nginx:1", imagePullPolicy: Always}
      - {name: sidecar, image: "envoy:1"}
`

func TestProjectKeepsOnlyOwnedFields(t *testing.T) {
	t.Parallel()
	u := objtest.Parse(t, deployment)
	owned := set(t, `{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`)
	want := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "web", "image": "nginx:1"}},
		}}},
	}
	if diff := cmp.Diff(want, project(u.Object, owned)); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestImpliedMembersDoNotCountAsOwnership(t *testing.T) {
	t.Parallel()
	server := set(t, `{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:size":{}}}`)
	deduced := set(t, `{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{".":{},"f:size":{}}}`)
	if server.Equals(deduced) {
		t.Fatal("the sets differ in '.' members; the test needs them to")
	}
	if !implied(server).Equals(implied(deduced)) {
		t.Errorf("implied(%s) != implied(%s)", server, deduced)
	}
	more := set(t, `{"f:metadata":{"f:labels":{"f:app":{},"f:team":{}}},"f:spec":{"f:size":{}}}`)
	if implied(server).Equals(implied(more)) {
		t.Error("owning one more field must count")
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	withManaged := func(doc, fields string) *unstructured.Unstructured {
		u := objtest.Parse(t, doc)
		u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "apps/v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields)}})
		return u
	}
	fields := `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`
	live := withManaged(deployment, fields)
	// Another manager's field (replicas) and server churn (status) differ: no change.
	same := withManaged(strings.Replace(deployment, "replicas: 3", "replicas: 5", 1)+"status: {observedGeneration: 9}\n", fields)
	if c, err := Compare(live, same); err != nil || c.Changed {
		t.Errorf("changes outside gantry's fields: changed=%v err=%v", c.Changed, err)
	}
	// A field gantry owns differs: a change, and the diff names it.
	other := withManaged(strings.Replace(deployment, `"nginx:1"`, `"nginx:2"`, 1), fields)
	c, err := Compare(live, other)
	if err != nil || !c.Changed {
		t.Fatalf("image changed: changed=%v err=%v", c.Changed, err)
	}
	want := []FieldDiff{{Path: "spec.template.spec.containers[name=web].image", Before: "nginx:1", After: "nginx:2"}}
	if diff := cmp.Diff(want, FieldDiffs(c.Before, c.After, nil)); diff != "" {
		t.Errorf("field diffs (-want +got)\n%s", diff)
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	before := objtest.Parse(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YQ==, b: Yg==}\n")
	after := objtest.Parse(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YQ==, b: Yw==, c: ZA==}\n")
	mb, ma := zero.Mask(secretRef, before, after)
	wantAfter := map[string]any{"a": "(sensitive value)", "b": sensitive.Changed, "c": sensitive.Changed}
	if diff := cmp.Diff(wantAfter, ma.Object["data"]); diff != "" {
		t.Errorf("after (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"a": "(sensitive value)", "b": "(sensitive value)"}, mb.Object["data"]); diff != "" {
		t.Errorf("before (-want +got)\n%s", diff)
	}
	if after.Object["data"].(map[string]any)["b"] != "Yw==" {
		t.Error("Mask changed its argument")
	}
	diffs := FieldDiffs(before, after, zero.Both(secretRef, before, after))
	for _, d := range diffs {
		if !d.Sensitive || d.Before != nil || d.After != nil {
			t.Errorf("secret field diff %+v carries a value", d)
		}
	}
	if len(diffs) != 2 {
		t.Errorf("secret diffs %v, want b and c", diffs)
	}
}

func TestFingerprintIgnoresStatusAndBookkeeping(t *testing.T) {
	t.Parallel()
	salt := []byte("0123456789abcdef0123456789abcdef")
	a := objtest.Parse(t, deployment+"status: {replicas: 1}\n")
	a.SetResourceVersion("10")
	b := objtest.Parse(t, deployment+"status: {replicas: 2}\n")
	b.SetResourceVersion("11")
	fa, _ := Fingerprint(salt, a)
	fb, _ := Fingerprint(salt, b)
	if fa != fb {
		t.Error("status and resourceVersion moved the fingerprint")
	}
	c := objtest.Parse(t, strings.Replace(deployment, "replicas: 3", "replicas: 4", 1))
	if fc, _ := Fingerprint(salt, c); fc == fa {
		t.Error("a spec change did not move the fingerprint")
	}
	if fd, _ := Fingerprint([]byte("another salt, another stack....."), a); fd == fa {
		t.Error("the fingerprint does not depend on the salt")
	}
}

func TestStringDataOwnershipIsDataOwnership(t *testing.T) {
	t.Parallel()
	secret := objtest.Parse(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: aHVudGVyMg==, other: b3RoZXI=}\n")
	secret.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", FieldsType: "FieldsV1",
		FieldsV1: metav1.NewFieldsV1(`{"f:stringData":{"f:password":{}},"f:type":{}}`)}})
	owned, err := OwnedSet(secret, FieldManager)
	if err != nil {
		t.Fatal(err)
	}
	want := set(t, `{"f:data":{"f:password":{}},"f:type":{}}`)
	if !owned.Equals(want) {
		t.Errorf("owned %s, want %s", owned, want)
	}
	// Only the key gantry writes shows, not another manager's.
	view, _ := OwnedView(secret)
	if diff := cmp.Diff(map[string]any{"password": "aHVudGVyMg=="}, view.Object["data"]); diff != "" {
		t.Errorf("owned view of data (-want +got)\n%s", diff)
	}
}

// TestFieldDiffsHideSecretLastApplied: kubectl's last-applied copy of a
// Secret holds its data, so a change to it is sensitive, without values.
func TestFieldDiffsHideSecretLastApplied(t *testing.T) {
	t.Parallel()
	before := objtest.Parse(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations: {kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"k\":\"b2xk\"}}'}\n")
	after := objtest.Parse(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations: {kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"k\":\"bmV3\"}}'}\n")
	diffs := FieldDiffs(before, after, zero.Both(secretRef, before, after))
	if len(diffs) != 1 || !diffs[0].Sensitive || diffs[0].Before != nil || diffs[0].After != nil {
		t.Errorf("diffs = %+v, want one sensitive change without values", diffs)
	}
}

// TestFieldDiffsMaskSecretsOfAnyShape: a Secret's data and stringData carry
// no value in field diffs whatever their type (a string, a list of named
// maps), not only when they are maps.
func TestFieldDiffsMaskSecretsOfAnyShape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, before, after string }{
		{"a map", "data: {k: czE=}", "data: {k: czI=}"},
		{"a string", "data: c2VjcmV0MQ==", "data: c2VjcmV0Mg=="},
		{"a map replaced by a string", "data: {k: czE=}", "data: c2VjcmV0Mg=="},
		{"a list of named maps", "stringData: [{name: a, value: secret1}]", "stringData: [{name: a, value: secret2}]"},
		{"a number", "stringData: {PIN: 1234}", "stringData: {PIN: 918273}"},
	} {
		before := objtest.Parse(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"+tc.before+"\n")
		after := objtest.Parse(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"+tc.after+"\n")
		diffs := FieldDiffs(before, after, zero.Both(secretRef, before, after))
		if len(diffs) == 0 {
			t.Errorf("%s: no diff", tc.name)
		}
		for _, d := range diffs {
			if !d.Sensitive || d.Before != nil || d.After != nil {
				t.Errorf("%s: %s shows values: %+v", tc.name, d.Path, d)
			}
		}
	}
}

// zero is the policy of a stack that declares nothing; secretRef names a
// Secret to it.
var (
	zero      sensitive.Policy
	secretRef = object.Ref{Kind: "Secret", Namespace: "n", Name: "s"}
)

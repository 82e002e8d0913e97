package sensitive_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/sensitive"
)

// secretWith is a Secret with the given top-level fields and annotations.
func secretWith(fields map[string]any, annotations map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": "db", "namespace": "n"}
	if annotations != nil {
		md["annotations"] = annotations
	}
	m := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": md}
	for k, v := range fields {
		m[k] = v
	}
	return obj(m)
}

func obj(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestSensitiveFields(t *testing.T) {
	t.Parallel()
	copyOf := `{"apiVersion":"v1","kind":"Secret","data":{"password":"` + b64("hunter2-canary") + `"}}`
	for name, tc := range map[string]struct {
		u    *unstructured.Unstructured
		want []string
	}{
		"data and stringData": {secretWith(map[string]any{"data": map[string]any{"b": b64("x"), "a": b64("y")}, "stringData": map[string]any{"c": "z"}}, nil),
			[]string{"data.a", "data.b", "stringData.c"}},
		"copy annotations": {secretWith(nil, map[string]any{object.LastApplied: copyOf, object.KappOriginal: copyOf, "team": "payments"}),
			[]string{"metadata.annotations." + object.KappOriginal, "metadata.annotations." + object.LastApplied}},
		"an annotation quoting a value": {secretWith(map[string]any{"stringData": map[string]any{"password": "hunter2-canary"}},
			map[string]any{"note": "the password is hunter2-canary", "team": "payments"}),
			[]string{"stringData.password", "metadata.annotations.note"}},
		"an annotation quoting decoded data": {secretWith(map[string]any{"data": map[string]any{"password": b64("hunter2-canary")}},
			map[string]any{"note": "hunter2-canary", "hex": hex.EncodeToString([]byte("hunter2-canary")), "team": "payments"}),
			[]string{"data.password", "metadata.annotations.hex", "metadata.annotations.note"}},
		"an annotation that is not a string": {secretWith(nil, map[string]any{"odd": int64(3)}),
			[]string{"metadata.annotations.odd"}},
		"annotations that are not a map": {secretWith(nil, nil), nil},
		"data that is not a map":         {secretWith(map[string]any{"data": "hunter2", "stringData": []any{"x"}}, nil), []string{"data", "stringData"}},
		"values of any type":             {secretWith(map[string]any{"stringData": map[string]any{"pin": int64(918273), "list": []any{"x"}, "null": nil}}, nil), []string{"stringData.list", "stringData.null", "stringData.pin"}},
		"not a Secret":                   {obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "annotations": map[string]any{object.LastApplied: copyOf}}, "data": map[string]any{"k": "v"}}), nil},
		"a Secret of another group":      {obj(map[string]any{"apiVersion": "example.com/v1", "kind": "Secret", "metadata": map[string]any{"name": "x"}, "data": map[string]any{"k": "v"}}), nil},
	} {
		var got []string
		for _, f := range zero.Fields(tc.u) {
			got = append(got, f.String())
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", name, diff)
		}
	}
	bad := secretWith(nil, nil)
	bad.Object["metadata"].(map[string]any)["annotations"] = "not a map"
	if got := zero.Fields(bad); len(got) != 1 || got[0].String() != "metadata.annotations" {
		t.Errorf("annotations that are not a map: %v", got)
	}
}

func TestIsSensitivePath(t *testing.T) {
	t.Parallel()
	fields := zero.Fields(secretWith(map[string]any{"data": map[string]any{"a": "x"}}, map[string]any{object.LastApplied: "{}"}))
	for path, want := range map[string]bool{
		"data.a": true, "data.a.b": true, "data.a[0]": true, "data": true, "metadata": true, "metadata.annotations": true,
		"metadata.annotations." + object.LastApplied: true,
		"data.b": false, "type": false, "metadata.name": false, "metadata.annotations.kubectl": false, "metadata.labels.a": false,
	} {
		if got := sensitive.IsPath(fields, path); got != want {
			t.Errorf("IsSensitivePath(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestScrubber: every form in which a Secret value can be printed is
// removed from text, and nothing else is.
func TestScrubber(t *testing.T) {
	t.Parallel()
	const (
		plain   = "canary-plain-5c1e"
		decoded = "canary-decoded-<&>\"-9a"
		copied  = "canary-in-a-copy-07"
	)
	secret := secretWith(map[string]any{
		"stringData": map[string]any{"password": plain, "pin": float64(918273), "big": float64(91827364512), "list": []any{"canary-listed-3"}},
		"data":       map[string]any{"token": b64(decoded)},
	}, map[string]any{object.LastApplied: `{"data":{"copied":"` + b64(copied) + `"}}`})
	embedded := func(value string, offset int, enc *base64.Encoding) string {
		return enc.EncodeToString([]byte(strings.Repeat("x", offset) + value + "tail"))
	}
	quoted := strconv.Quote(decoded)
	js, _ := json.Marshal(decoded)
	for name, text := range map[string]string{
		"plain":             "value " + plain + " refused",
		"as base64 in data": "data.token: " + b64(decoded),
		"decoded":           "got " + decoded,
		"Go-quoted":         "got " + quoted,
		"JSON-quoted":       "got " + string(js),
		"hex":               hex.EncodeToString([]byte(plain)),
		"HEX":               strings.ToUpper(hex.EncodeToString([]byte(decoded))),
		"base64url":         base64.URLEncoding.EncodeToString([]byte(decoded)),
		"raw base64":        base64.RawStdEncoding.EncodeToString([]byte(plain)),
		"offset 0":          embedded(plain, 0, base64.StdEncoding),
		"offset 1":          embedded(plain, 1, base64.StdEncoding),
		"offset 2":          embedded(plain, 2, base64.URLEncoding),
		"number %v":         fmt.Sprintf("got &value.valueUnstructured{Value:%v}", float64(918273)),
		"big number %v":     fmt.Sprintf("got %v", float64(91827364512)),
		"big number JSON":   "got 91827364512",
		"in a list":         fmt.Sprintf("%#v", []any{"canary-listed-3"}),
		"in the copy":       "token " + copied,
		"the copy whole":    secret.GetAnnotations()[object.LastApplied],
	} {
		scrubbed := zero.Scrubber(secret).Scrub(text)
		for _, leak := range []string{plain, decoded, "918273", "9.1827364512e+10", "91827364512", "canary-listed-3", copied, b64(decoded)} {
			if strings.Contains(scrubbed, leak) {
				t.Errorf("%s: %q still holds %q", name, scrubbed, leak)
			}
		}
		if !strings.Contains(scrubbed, sensitive.Value) {
			t.Errorf("%s: nothing scrubbed from %q", name, text)
		}
	}
	// Base64 at an offset: the characters around the value survive.
	text := embedded(plain, 1, base64.StdEncoding)
	if got := zero.Scrubber(secret).Scrub(text); !strings.HasPrefix(got, text[:4]) {
		t.Errorf("offset 1: %q lost what is not the value", got)
	}
	harmless := "Secret/n/db: the server refused it (422 Invalid)"
	if got := zero.Scrubber(secret).Scrub(harmless); got != harmless {
		t.Errorf("harmless text changed: %q", got)
	}
	if got := zero.Scrubber(obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}, "data": map[string]any{"k": plain}})).Scrub(plain); got != plain {
		t.Errorf("a ConfigMap's value was scrubbed: %q", got)
	}
}

func TestScrubError(t *testing.T) {
	t.Parallel()
	secret := secretWith(map[string]any{"stringData": map[string]any{"pin": "canary-pin-8841"}}, nil)
	status := apierrors.NewBadRequest("value canary-pin-8841 is invalid")
	err := zero.ScrubError(fmt.Errorf("plan: %w", errors.Join(status, context.Canceled)), secret)
	if strings.Contains(err.Error(), "canary-pin-8841") || !strings.Contains(err.Error(), sensitive.Value) {
		t.Errorf("scrubbed error: %v", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Error("errors.Is no longer sees the wrapped sentinel")
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		t.Errorf("errors.As reaches the server's error, message and all: %v", se)
	}
	clean := apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "db")
	if got := zero.ScrubError(clean, secret); got != error(clean) {
		t.Errorf("an error without values was wrapped: %#v", got)
	}
	if zero.ScrubError(nil, secret) != nil {
		t.Error("nil became an error")
	}
	if got := sensitive.NewValueScrubber("PIN918273").Error(errors.New("invalid literal source PIN918273")); strings.Contains(got.Error(), "918273") {
		t.Errorf("value scrubber: %v", got)
	}
}

func TestRedactedCopiesAndQuotes(t *testing.T) {
	t.Parallel()
	secret := secretWith(map[string]any{"stringData": map[string]any{"password": "canary-pw-123"}},
		map[string]any{object.KappOriginal: `{"stringData":{"password":"canary-pw-123"}}`, "note": "pw canary-pw-123", "team": "payments"})
	js, _ := object.Canonical(zero.Redacted(secret))
	if strings.Contains(string(js), "canary-pw-123") || !strings.Contains(string(js), `"team":"payments"`) {
		t.Errorf("redacted: %s", js)
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
	red := zero.Redacted(secret)
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
	if zero.Redacted(cm) != cm {
		t.Error("a ConfigMap was copied or changed")
	}
}

// zero is the policy of a stack that declares nothing.
var zero sensitive.Policy

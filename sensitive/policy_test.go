package sensitive_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/sensitive"
)

// configMap is a ConfigMap named name with data and annotations.
func configMap(name string, data, annotations map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": name, "namespace": "n"}
	if annotations != nil {
		md["annotations"] = annotations
	}
	return obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data})
}

func TestDeclaredFields(t *testing.T) {
	t.Parallel()
	rule := func(name string, fields ...string) []sensitive.Rule {
		return []sensitive.Rule{{Kind: "ConfigMap", Name: name, Fields: fields}}
	}
	data := map[string]any{"password": "hunter2-canary", "user": "app", "app.properties": "token=abc", "nested": map[string]any{"a": "x", "b": map[string]any{"c": "y"}}}
	widget := obj(map[string]any{"apiVersion": "example.com/v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "db"}, "data": data})
	for name, tc := range map[string]struct {
		rules []sensitive.Rule
		u     *unstructured.Unstructured
		want  []string
	}{
		"nothing declared":                {nil, configMap("db", data, nil), nil},
		"one field":                       {rule("", "data.password"), configMap("db", data, nil), []string{"data.password"}},
		"by name":                         {rule("db", "data.password"), configMap("db", data, nil), []string{"data.password"}},
		"another name":                    {rule("cache", "data.password"), configMap("db", data, nil), nil},
		"another group, same kind":        {rule("", "data.password"), widget, nil},
		"every key":                       {rule("", "data.*"), configMap("db", map[string]any{"b": "1", "a": "2"}, nil), []string{"data.a", "data.b"}},
		"a key with dots":                 {rule("", "data['app.properties']"), configMap("db", data, nil), []string{"data.app.properties"}},
		"a map: every leaf":               {rule("", "data.nested"), configMap("db", data, nil), []string{"data.nested.a", "data.nested.b.c"}},
		"absent":                          {rule("", "data.missing"), configMap("db", data, nil), nil},
		"a list is not entered":           {rule("", "data.list.x"), configMap("db", map[string]any{"list": []any{map[string]any{"x": "1"}}}, nil), nil},
		"a copy annotation":               {rule("", "data.password"), configMap("db", data, map[string]any{object.LastApplied: `{"data":{"password":"hunter2-canary"}}`, "team": "a"}), []string{"data.password", "metadata.annotations." + object.LastApplied}},
		"an annotation quoting the value": {rule("", "data.password"), configMap("db", data, map[string]any{"note": "pw is hunter2-canary", "team": "a"}), []string{"data.password", "metadata.annotations.note"}},
		"no content, copy not sensitive":  {nil, configMap("db", data, map[string]any{object.LastApplied: `{}`}), nil},
		"a sealed value anywhere":         {nil, configMap("db", map[string]any{"k": sensitive.SealedEncrypted + "AAAA"}, nil), []string{"data.k"}},
	} {
		var got []string
		for _, f := range sensitive.Of(tc.rules).Fields(tc.u) {
			got = append(got, f.String())
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", name, diff)
		}
	}
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"data.password":             "data|password",
		"data.*":                    "data|*",
		"data['app.properties']":    "data|app.properties",
		`data["a.b"].x`:             "data|a.b|x",
		"spec.values['db.url'].key": "spec|values|db.url|key",
		"":                          "error: an empty path",
		"data.":                     "error: a trailing dot",
		"data..x":                   "error: an empty key",
		"data['x":                   "error: an unclosed ['",
		"data['x']y":                `error: expected . or [ after "x"`,
	} {
		p, err := sensitive.ParsePath(in)
		got := strings.Join(p, "|")
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("ParsePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCoversAndCheckStrings(t *testing.T) {
	t.Parallel()
	p := sensitive.Of([]sensitive.Rule{{Group: "example.com", Kind: "Widget", Fields: []string{"spec.token"}}})
	widget := object.Ref{Group: "example.com", Kind: "Widget", Namespace: "n", Name: "w"}
	for ref, want := range map[object.Ref]bool{widget: true, {Kind: "Secret", Name: "s"}: true, {Kind: "ConfigMap", Name: "c"}: false, {Kind: "Widget", Name: "w"}: false} {
		if got := p.Covers(ref); got != want {
			t.Errorf("Covers(%s) = %t, want %t", ref, got, want)
		}
	}
	if err := p.CheckStrings(widget, map[string]any{"spec": map[string]any{"token": "abc"}}); err != nil {
		t.Errorf("a string: %v", err)
	}
	err := p.CheckStrings(widget, map[string]any{"spec": map[string]any{"token": int64(918273)}})
	if err == nil || !strings.Contains(err.Error(), "spec.token is declared sensitive") || strings.Contains(err.Error(), "918273") {
		t.Errorf("a number: %v (want refused, naming the field and not the value)", err)
	}
}

// TestDeclaredMaskedAndScrubbed: a declared field's value is masked in
// views (Redacted, Mask) and scrubbed from error text in its usual forms,
// in the object and in its last-applied copy; the rest is left alone.
func TestDeclaredMaskedAndScrubbed(t *testing.T) {
	t.Parallel()
	p := sensitive.Of([]sensitive.Rule{{Kind: "ConfigMap", Fields: []string{"data.password"}}})
	before := configMap("db", map[string]any{"password": "old-canary-1", "user": "app"}, nil)
	after := configMap("db", map[string]any{"password": "new-canary-2", "user": "app"},
		map[string]any{object.LastApplied: `{"data":{"password":"new-canary-2"}}`})
	mb, ma := p.Mask(object.RefOf(after), before, after)
	got := map[string]any{"before": mb.Object["data"], "after": ma.Object["data"], "copy": ma.GetAnnotations()[object.LastApplied]}
	want := map[string]any{"before": map[string]any{"password": sensitive.Value, "user": "app"},
		"after": map[string]any{"password": sensitive.Changed, "user": "app"}, "copy": sensitive.Changed}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("masked views (-want +got)\n%s", diff)
	}
	if red := p.Redacted(after); red.Object["data"].(map[string]any)["password"] != sensitive.Value || after.Object["data"].(map[string]any)["password"] != "new-canary-2" {
		t.Error("Redacted does not mask the declared field, or changed its argument")
	}
	err := p.ScrubError(errors.New(`rejected "new-canary-2" (bmV3LWNhbmFyeS0y), user app`), after)
	if strings.Contains(err.Error(), "new-canary-2") || strings.Contains(err.Error(), "bmV3LWNhbmFyeS0y") || !strings.Contains(err.Error(), "user app") {
		t.Errorf("scrubbed: %v", err)
	}
	if sensitive.Of(nil).ScrubError(errors.New("new-canary-2"), after).Error() != "new-canary-2" {
		t.Error("without the rule, the ConfigMap's value was scrubbed: the test checks nothing")
	}
}

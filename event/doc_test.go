package event

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// documented reads docs/events.md: each kind's section heading (one may
// name several kinds) and its JSON example of details.
func documented(t *testing.T) map[Kind]string {
	t.Helper()
	raw, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	_, kinds, ok := strings.Cut(string(raw), "\n## Kinds\n")
	if !ok {
		t.Fatal("docs/events.md has no ## Kinds section")
	}
	names := regexp.MustCompile("`([a-z.]+)`")
	out := map[Kind]string{}
	for _, section := range strings.Split(kinds, "\n### ")[1:] {
		heading, body, _ := strings.Cut(section, "\n")
		_, example, ok := strings.Cut(body, "```json\n")
		example, _, _ = strings.Cut(example, "```")
		if !ok {
			t.Errorf("docs/events.md: %s has no JSON example", heading)
		}
		for _, m := range names.FindAllStringSubmatch(heading, -1) {
			if _, dup := out[Kind(m[1])]; dup {
				t.Errorf("docs/events.md documents %s twice", m[1])
			}
			out[Kind(m[1])] = example
		}
	}
	return out
}

// keys are the top-level keys of a JSON object.
func keys(t *testing.T, js []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDocumentedKinds: docs/events.md documents every kind and no other;
// each example decodes strictly into its kind's data type and names every
// field the type has, so the page cannot fall behind the code.
func TestDocumentedKinds(t *testing.T) {
	docs := documented(t)
	for kind, zero := range Kinds {
		if zero.Kind() != kind {
			t.Errorf("Kinds[%s] holds the data of %s", kind, zero.Kind())
		}
		example, ok := docs[kind]
		if !ok {
			t.Errorf("docs/events.md does not document %s", kind)
			continue
		}
		v := reflect.New(reflect.TypeOf(zero))
		dec := json.NewDecoder(bytes.NewReader([]byte(example)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v.Interface()); err != nil {
			t.Errorf("%s: the documented example does not decode into %T: %v", kind, zero, err)
			continue
		}
		again, err := json.Marshal(v.Elem().Interface())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := keys(t, again), keys(t, []byte(example)); !slices.Equal(got, want) {
			t.Errorf("%s: %T has the fields %v, the example %v: document every field", kind, zero, got, want)
		}
		all := reflect.TypeOf(zero).NumField()
		if len(keys(t, again)) != all {
			t.Errorf("%s: the example sets %d of the %d fields of %T: give each a value", kind, len(keys(t, again)), all, zero)
		}
	}
	for kind := range docs {
		if _, ok := Kinds[kind]; !ok {
			t.Errorf("docs/events.md documents %s, which is no kind", kind)
		}
	}
}

package ssa

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/sensitive"
	"github.com/google/go-cmp/cmp"
)

// TestSecretViewsHideEverySensitiveField: plan views and field diffs of a
// Secret hide what sensitive.Policy.Fields calls sensitive — copies of the
// object in kapp's annotation, annotations quoting a value, data that is
// not a map — even in views that lack apiVersion and kind, and keep the
// rest visible.
func TestSecretViewsHideEverySensitiveField(t *testing.T) {
	t.Parallel()
	const canary, rotated = "canary-pw-1a2b", "canary-pw-rotated-3c4d"
	view := func(pw string) string {
		return "metadata:\n  name: s\n  labels: {team: payments}\n  annotations:\n" +
			"    kapp.k14s.io/original: '{\"stringData\":{\"pw\":\"" + pw + "\"}}'\n" +
			"    example.com/note: 'rotate " + pw + " yearly'\n" +
			"    example.com/owner: alice\n" +
			"stringData: {pw: " + pw + "}\n"
	}
	before, after := objtest.Parse(t, view(canary)), objtest.Parse(t, strings.Replace(view(rotated), "alice", "bob", 1))
	mb, ma := zero.Mask(secretRef, before, after)
	diffs := FieldDiffs(before, after, zero.Both(secretRef, before, after))
	shown, err := json.Marshal([]any{mb.Object, ma.Object, diffs})
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{canary, rotated} {
		if strings.Contains(string(shown), leak) {
			t.Errorf("the plan shows %q: %s", leak, shown)
		}
	}
	var got []string
	for _, d := range diffs {
		got = append(got, d.Path)
		if d.Sensitive != (d.Path != "metadata.annotations.example.com/owner") {
			t.Errorf("diff %+v: sensitive %v", d, d.Sensitive)
		}
	}
	want := []string{"metadata.annotations.example.com/note", "metadata.annotations.example.com/owner", "metadata.annotations.kapp.k14s.io/original", "stringData.pw"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diff paths (-want +got)\n%s", diff)
	}
	if ma.GetAnnotations()["example.com/note"] != sensitive.Changed || ma.GetLabels()["team"] != "payments" {
		t.Errorf("after view: %v", ma.Object)
	}

	notMap := objtest.Parse(t, "data: canary-data-not-a-map\n")
	diffs = FieldDiffs(nil, notMap, zero.Both(secretRef, nil, notMap))
	if len(diffs) != 1 || !diffs[0].Sensitive || diffs[0].After != nil {
		t.Errorf("data that is not a map: %+v", diffs)
	}
}

package engine

import (
	"strings"
	"testing"
)

func TestRollbackReason(t *testing.T) {
	t.Parallel()
	const a, b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	for _, tc := range []struct {
		name         string
		last, commit string
		rel          ancestry
		want         string // "" : no person needed
	}{
		{"nothing applied yet", "", a, ancestryUnrelated, ""},
		{"the same commit", a, a, ancestrySame, ""},
		{"the same commit, whatever Git says", a, a, ancestryUnrelated, ""},
		{"a newer commit", a, b, ancestryDescendant, ""},
		{"an older commit", b, a, ancestryAncestor, "is older than commit bbbbbbb"},
		{"a rewritten history", b, a, ancestryUnrelated, "the history was rewritten"},
	} {
		got := rollbackReason(tc.last, tc.commit, tc.rel)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if got != "" && !strings.Contains(got, "whatever the approval policy") {
			t.Errorf("%s: %q does not say that no policy approves it", tc.name, got)
		}
	}
}

func TestRelate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lastBeforeCommit, commitBeforeLast bool
		want                               ancestry
	}{
		{true, true, ancestrySame},
		{true, false, ancestryDescendant},
		{false, true, ancestryAncestor},
		{false, false, ancestryUnrelated},
	} {
		if got := relate(tc.lastBeforeCommit, tc.commitBeforeLast); got != tc.want {
			t.Errorf("relate(%v, %v) = %s, want %s", tc.lastBeforeCommit, tc.commitBeforeLast, got, tc.want)
		}
	}
}

package source

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func TestTagNameMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		signed string
		ref    plumbing.ReferenceName
		ok     bool
	}{
		{"v1.0.0", "refs/tags/v1.0.0", true},
		{"release/v1", "refs/tags/release/v1", true},
		{"v1.0.0", "refs/tags/v2.0.0", false},
		{"v1.0.0", "refs/tags/release/v1.0.0", false},
		{"release/v1.0.0", "refs/tags/v1.0.0", false},
		{"V1.0.0", "refs/tags/v1.0.0", false}, // names are case-sensitive
		{"", "refs/tags/v1.0.0", false},
	} {
		if err := tagNameMatches(tc.signed, tc.ref); (err == nil) != tc.ok {
			t.Errorf("tag %q at %s: %v, want ok=%v", tc.signed, tc.ref, err, tc.ok)
		}
	}
}

package runner

import (
	"testing"
	"time"

	"github.com/gantryops/gantry/stack"
	"github.com/google/go-cmp/cmp"
)

func TestRefMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ref, pushed string
		want        bool
	}{
		{"main", "refs/heads/main", true},
		{"main", "refs/heads/dev", false},
		{"HEAD", "refs/heads/anything", true},
		{"v1.2.0", "refs/tags/v1.2.0", true},
		{"refs/heads/main", "refs/heads/main", true},
		{"main", "", true},
	} {
		if got := refMatches(tc.ref, tc.pushed); got != tc.want {
			t.Errorf("refMatches(%q, %q) = %v, want %v", tc.ref, tc.pushed, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	r := &Runner{opts: Options{MinBackoff: 2 * time.Second, MaxBackoff: time.Minute}}
	s := stack.Stack{Schedule: stack.Schedule{Interval: 30 * time.Second}}
	var got []time.Duration
	for i := 1; i <= 6; i++ {
		got = append(got, r.backoff(s, i))
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff capped by the interval (-want +got)\n%s", diff)
	}
}

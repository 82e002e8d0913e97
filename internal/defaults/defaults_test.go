package defaults

import (
	"testing"
	"time"
)

func TestPositive(t *testing.T) {
	cases := []struct {
		name string
		v, d time.Duration
		want time.Duration
	}{
		{"unset", 0, time.Second, time.Second},
		{"negative", -time.Minute, time.Second, time.Second},
		{"set", time.Minute, time.Second, time.Minute},
	}
	for _, tc := range cases {
		if got := Positive(tc.v, tc.d); got != tc.want {
			t.Errorf("%s: Positive(%v, %v) = %v, want %v", tc.name, tc.v, tc.d, got, tc.want)
		}
	}
	if got := Positive(0, 16); got != 16 {
		t.Errorf("Positive(0, 16) = %d", got)
	}
}

package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseMoment(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	endOf := func(t time.Time) time.Time { return t.Add(time.Second - time.Microsecond) }
	for in, want := range map[string]time.Time{
		"2026-11-24T09:30:00Z":       endOf(time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)),
		"2026-11-24T10:30:00+01:00":  endOf(time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)),
		"2026-11-24T09:30:00.25Z":    time.Date(2026, 11, 24, 9, 30, 0, 250e6, time.UTC),
		"2026-11-24 09:30:00":        endOf(time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)),
		"2026-11-24 09:30":           time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC),
		"2026-11-24":                 time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
		"-90m":                       now.Add(-90 * time.Minute),
		"-3d":                        now.Add(-72 * time.Hour),
		" 2026-11-24 09:30:00+00:00": endOf(time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)),
		"2026-11-25 12:00:00":        now, // the current second ends now
		"2026-11-25 12:00:01":        endOf(now.Add(time.Second)),
	} {
		got, err := parseMoment(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseMoment(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "-", "-5x", "24/11/2026", "--3d"} {
		if _, err := parseMoment(in, now); err == nil || !strings.Contains(err.Error(), in) {
			t.Errorf("parseMoment(%q): err = %v, want one quoting the input", in, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "0d": 0} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1h", "xd", "-2d", "week"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) succeeded", in)
		}
	}
}

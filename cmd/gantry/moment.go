package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// momentLayouts are the absolute forms --at takes; those without a zone are
// UTC. toSecond marks those that give whole seconds.
var momentLayouts = []struct {
	layout   string
	toSecond bool
}{
	{time.RFC3339, true},
	{time.RFC3339Nano, false},
	{"2006-01-02 15:04:05Z07:00", true},
	{"2006-01-02T15:04:05", true},
	{"2006-01-02 15:04:05", true},
	{"2006-01-02T15:04", false},
	{"2006-01-02 15:04", false},
	{"2006-01-02", false},
}

// parseMoment reads a point in time: an absolute time (RFC 3339, or
// "YYYY-MM-DD HH:MM[:SS]" in UTC, or a date at midnight UTC), or a time
// relative to now, as a negative duration ("-90m", "-2h30m", "-3d").
//
// A time given to the whole second means the end of that second (to the
// microsecond Postgres keeps): gantry history shows when applies finished
// to the second, so the time it shows for an apply includes that apply.
// Never later than now, though: the current second ends at now.
func parseMoment(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		d, err := parseDuration(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %v", s, err)
		}
		return now.Add(-d), nil
	}
	for _, l := range momentLayouts {
		t, err := time.Parse(l.layout, s)
		if err != nil {
			continue
		}
		if l.toSecond && !strings.Contains(s, ".") { // Go accepts fractions the layout lacks
			end := t.Add(time.Second - time.Microsecond)
			if end.After(now) && !t.After(now) {
				return now, nil
			}
			return end, nil
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf(`%q is not a time: use RFC 3339 ("2026-11-24T09:30:00Z"), "2026-11-24 09:30:00" (UTC), or a time ago as "-90m", "-2h" or "-3d"`, s)
}

// parseDuration reads a Go duration ("90m", "2h30m") or a number of days
// ("30d"), which Go durations lack.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration: use e.g. 90m, 36h or 30d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration: use e.g. 90m, 36h or 30d", s)
	}
	return d, nil
}

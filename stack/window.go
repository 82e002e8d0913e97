package stack

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// WindowKind says whether a window allows or denies applies.
type WindowKind string

// Window kinds.
const (
	WindowAllow WindowKind = "allow"
	WindowDeny  WindowKind = "deny"
)

// Window is a recurring stretch of time in which applies are allowed or
// denied: it opens at every time its cron schedule fires and stays open for
// Duration. The rules are Argo CD's sync windows: while any deny window is
// open, applies wait; when the stack has allow windows, applies wait unless
// one of them is open. Plans are made and recorded either way.
type Window struct {
	// Kind is allow or deny.
	Kind WindowKind
	// Schedule is a standard five-field cron expression ("0 22 * * 1-5").
	Schedule string
	// Duration is how long the window stays open after each start.
	Duration time.Duration
	// TimeZone is the IANA zone Schedule is read in. Default UTC.
	TimeZone string

	sched cron.Schedule
}

// newWindow parses schedule in zone; the error says what is wrong.
func newWindow(kind WindowKind, schedule string, d time.Duration, zone string) (Window, error) {
	w := Window{Kind: kind, Schedule: schedule, Duration: d, TimeZone: zone}
	if zone == "" {
		w.TimeZone = "UTC"
	}
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		return w, fmt.Errorf("timeZone %q is not a time zone: use an IANA name such as UTC or Europe/Berlin", zone)
	}
	if strings.HasPrefix(schedule, "TZ=") || strings.HasPrefix(schedule, "CRON_TZ=") {
		return w, fmt.Errorf("schedule %q: set the zone with timeZone, not in the schedule", schedule)
	}
	spec, err := cron.ParseStandard(schedule)
	if err != nil {
		return w, fmt.Errorf("schedule %q is not a cron expression (%v): use five fields, minute hour day-of-month month day-of-week, e.g. \"0 22 * * 1-5\"", schedule, err)
	}
	if s, ok := spec.(*cron.SpecSchedule); ok {
		s.Location = loc
	}
	w.sched = spec
	return w, nil
}

// Open reports whether the window is open at t: it started at most Duration
// before t.
func (w Window) Open(t time.Time) bool {
	if w.sched == nil || w.Duration <= 0 {
		return false
	}
	// Next returns the first start strictly after its argument.
	start := w.sched.Next(t.Add(-w.Duration))
	return !start.After(t)
}

// String describes the window for messages.
func (w Window) String() string {
	return fmt.Sprintf("%s %q for %s (%s)", w.Kind, w.Schedule, w.Duration, w.TimeZone)
}

// ApplyAllowed reports whether the stack's windows allow applying at t, and
// if not, why (naming the window).
func (s Stack) ApplyAllowed(t time.Time) (bool, string) {
	hasAllow := false
	for _, w := range s.Windows {
		if w.Kind == WindowDeny && w.Open(t) {
			return false, "deny window " + w.String() + " is open"
		}
		hasAllow = hasAllow || w.Kind == WindowAllow
	}
	if !hasAllow {
		return true, ""
	}
	for _, w := range s.Windows {
		if w.Kind == WindowAllow && w.Open(t) {
			return true, ""
		}
	}
	return false, "no allow window is open"
}

// NextWindowChange returns the first moment after t, within horizon, at which
// a window of the stack opens or closes; the zero time when there is none.
// The engine wakes then to apply what a window held.
func (s Stack) NextWindowChange(t time.Time, horizon time.Duration) time.Time {
	var next time.Time
	consider := func(c time.Time) {
		if c.After(t) && c.Sub(t) <= horizon && (next.IsZero() || c.Before(next)) {
			next = c
		}
	}
	for _, w := range s.Windows {
		if w.sched == nil {
			continue
		}
		consider(w.sched.Next(t))
		// The close of a window open now: its last start plus Duration.
		if start := w.sched.Next(t.Add(-w.Duration)); !start.After(t) {
			consider(start.Add(w.Duration))
		}
	}
	return next
}

// window parses one entry of a stack's windows.
func (p *parser) window(n *yaml.Node, path string) (Window, bool) {
	var kind WindowKind
	var schedule, zone string
	var d time.Duration
	sawKind, sawSchedule, sawDuration := false, false, false
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"kind": func(n *yaml.Node, path string) {
			sawKind = true
			kind = WindowKind(p.str(n, path))
			if kind != WindowAllow && kind != WindowDeny {
				p.fail(n, path, "%q is not a window kind: use allow or deny", kind)
			}
		},
		"schedule": func(n *yaml.Node, path string) { sawSchedule = true; schedule = p.str(n, path) },
		"duration": func(n *yaml.Node, path string) {
			sawDuration = true
			if d = p.duration(n, path); d == 0 && n.Value != "" {
				p.fail(n, path, "a window must stay open for some time: use e.g. 30m or 8h")
			}
		},
		"timeZone": func(n *yaml.Node, path string) { zone = p.str(n, path) },
	})
	if n.Kind != yaml.MappingNode {
		return Window{}, false
	}
	for _, f := range []struct {
		name string
		saw  bool
	}{{"kind", sawKind}, {"schedule", sawSchedule}, {"duration", sawDuration}} {
		if !f.saw {
			p.fail(n, join(path, f.name), "missing: a window needs kind (allow or deny), schedule (cron) and duration")
		}
	}
	if !sawSchedule || schedule == "" || !sawKind {
		return Window{}, false
	}
	w, err := newWindow(kind, schedule, d, zone)
	if err != nil {
		p.fail(n, path, "%v", err)
		return Window{}, false
	}
	return w, true
}

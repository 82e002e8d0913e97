package notify

import (
	"fmt"
	"strings"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/internal/repourl"
	"github.com/gantryops/gantry/state"
)

// Summary is an event's one line: the stack, what happened, the plan, its
// source and commit and (for plans and applies) its changes, by whom, and
// the reason or error the event holds (its first line, at most 200
// characters).
func Summary(e state.AuditEvent, plan state.PlanContext) string {
	what, ok := phrases[e.Kind]
	if !ok {
		what = string(e.Kind)
	}
	s := fmt.Sprintf("%s: %s", e.Stack, what)
	if e.PlanID != "" {
		s += " (plan " + short(e.PlanID) + ")"
	}
	if p := plan; p.Commit != "" {
		s += fmt.Sprintf(" of %s at %s", repourl.Redact(p.Repo), short12(p.Commit))
		if p.Add+p.Change+p.Destroy > 0 && changeKinds[e.Kind] {
			s += fmt.Sprintf(", +%d ~%d -%d", p.Add, p.Change, p.Destroy)
		}
	}
	if e.Actor != "" {
		s += " by " + e.Actor
	}
	for _, key := range []string{"reason", "error"} {
		if v, ok := e.Details[key].(string); ok && v != "" {
			s += ": " + firstLine(v)
			break
		}
	}
	return s
}

var phrases = map[event.Kind]string{
	event.PlanCreated:      "plan recorded",
	event.PlanPending:      "plan waits for approval",
	event.PlanApproved:     "plan approved",
	event.PlanRejected:     "plan rejected",
	event.PlanSuperseded:   "plan superseded",
	event.PlanStale:        "approved plan is stale, planned again",
	event.ApplyDeferred:    "apply deferred by a window",
	event.DriftDetected:    "drift detected",
	event.CommitRefused:    "commit refused (signature)",
	event.ApplyRefused:     "apply refused",
	event.ApplyStarted:     "apply started",
	event.ApplySucceeded:   "apply succeeded",
	event.ApplyFailed:      "apply failed",
	event.ApplyInterrupted: "apply interrupted",
	event.ObjectPruned:     "object pruned",
	event.ObjectKept:       "object kept",
	event.LockBroken:       "lock broken",
	event.LockLost:         "lock lost",
	event.StackRestored:    "restored",
	event.StackHeld:        "held after a restore",
	event.StackResumed:     "resumed",
	event.StackFailing:     "failing: reconciles failed in a row",
	event.StackRecovered:   "recovered: reconciled again",
	event.GC:               "old revisions deleted",
	event.KeyRotated:       "secret key rotated",
}

// changeKinds are the events whose message counts the plan's changes.
var changeKinds = map[event.Kind]bool{event.PlanPending: true, event.PlanApproved: true, event.PlanRejected: true,
	event.ApplyStarted: true, event.ApplySucceeded: true, event.ApplyFailed: true, event.ApplyInterrupted: true}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

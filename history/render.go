package history

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/internal/textout"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/state"
)

// FormatVersion is the version of the JSON this package writes; readers
// refuse versions they do not know.
const FormatVersion = 1

// timeLayout shows moments to the second, in UTC, as restore --at takes them.
const timeLayout = "2006-01-02 15:04:05"

// Entry is one apply in the JSON form of a stack's history.
type Entry struct {
	Revision int    `json:"revision"`
	ID       string `json:"revision_id"`
	Commit   string `json:"commit"`
	// AppliedAt is when the apply finished (nil while it runs).
	AppliedAt *time.Time `json:"applied_at"`
	StartedAt time.Time  `json:"started_at"`
	Actor     string     `json:"actor"`
	PlanID    string     `json:"plan_id"`
	ApplyID   string     `json:"apply_id"`
	Added     int        `json:"added"`
	Changed   int        `json:"changed"`
	Destroyed int        `json:"destroyed"`
	Status    string     `json:"status"`
	Error     string     `json:"error,omitempty"`
	// RestoredFrom is the number of the revision a restore copied (0: none).
	RestoredFrom int  `json:"restored_from,omitempty"`
	Objects      int  `json:"objects"`
	Held         bool `json:"held,omitempty"`
}

// HoldJSON is a stack's hold in JSON.
type HoldJSON struct {
	Revision      int       `json:"revision"`
	Since         time.Time `json:"since"`
	By            string    `json:"by"`
	AgainstCommit string    `json:"against_commit"`
}

// Log is the JSON form of a stack's history.
type Log struct {
	FormatVersion int       `json:"format_version"`
	Stack         string    `json:"stack"`
	Hold          *HoldJSON `json:"hold"`
	Applies       []Entry   `json:"applies"`
}

// NewLog builds the JSON form of entries (newest first) and hold (nil: none).
func NewLog(stack string, entries []state.HistoryEntry, hold *state.Hold) *Log {
	l := &Log{FormatVersion: FormatVersion, Stack: stack, Applies: make([]Entry, 0, len(entries))}
	if hold != nil {
		l.Hold = &HoldJSON{Revision: hold.Revision.Number, Since: hold.Since.UTC(), By: hold.By, AgainstCommit: hold.AgainstCommit}
	}
	for _, e := range entries {
		var finished *time.Time
		if e.FinishedAt != nil {
			t := e.FinishedAt.UTC()
			finished = &t
		}
		l.Applies = append(l.Applies, Entry{
			Revision: e.Revision.Number, ID: e.Revision.ID, Commit: e.Revision.Commit,
			AppliedAt: finished, StartedAt: e.StartedAt.UTC(), Actor: e.Actor, PlanID: e.PlanID, ApplyID: e.ApplyID,
			Added: e.Added, Changed: e.Changed, Destroyed: e.Destroyed, Status: string(e.Status), Error: e.Error,
			RestoredFrom: e.Revision.RestoredFromNumber, Objects: e.Revision.Objects,
			Held: hold != nil && hold.Revision.ID == e.Revision.ID && e.Status == state.ApplySucceeded,
		})
	}
	return l
}

// WriteJSON writes v indented.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTable writes the history as a table, newest first, after a line
// about the hold when the stack is held.
func WriteTable(w io.Writer, l *Log) error {
	if l.Hold != nil {
		if _, err := fmt.Fprintf(w, "Stack %s is held at revision %d since %s (restored by %s): Git commits up to %s are not applied.\nA newer commit, or `gantry resume %s`, lifts the hold.\n\n",
			l.Stack, l.Hold.Revision, l.Hold.Since.Format(timeLayout), l.Hold.By, object.ShortSHA(l.Hold.AgainstCommit), l.Stack); err != nil {
			return err
		}
	}
	if len(l.Applies) == 0 {
		_, err := fmt.Fprintf(w, "Stack %s has no applies yet.\n", l.Stack)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REV\tREVISION ID\tCOMMIT\tAPPLIED AT (UTC)\tACTOR\tPLAN\tCHANGES\tSTATUS\tRESTORED FROM")
	for _, e := range l.Applies {
		at := "running since " + e.StartedAt.Format(timeLayout)
		if e.AppliedAt != nil {
			at = e.AppliedAt.Format(timeLayout)
		}
		status := e.Status
		if e.Held {
			status += ", held"
		}
		restored := ""
		if e.RestoredFrom != 0 {
			restored = fmt.Sprint(e.RestoredFrom)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t+%d ~%d -%d\t%s\t%s\n",
			e.Revision, shortID(e.ID), object.ShortSHA(e.Commit), at, e.Actor, shortID(e.PlanID), e.Added, e.Changed, e.Destroyed, status, restored)
	}
	return tw.Flush()
}

// AuditEntry is one audit event in JSON.
type AuditEntry struct {
	ID      string         `json:"id"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Kind    string         `json:"kind"`
	PlanID  string         `json:"plan_id,omitempty"`
	ApplyID string         `json:"apply_id,omitempty"`
	Details map[string]any `json:"details"`
}

// AuditLog is the JSON form of a stack's audit log.
type AuditLog struct {
	FormatVersion int          `json:"format_version"`
	Stack         string       `json:"stack"`
	Events        []AuditEntry `json:"events"`
}

// NewAuditLog builds the JSON form of events (newest first).
func NewAuditLog(stack string, events []state.AuditEvent) *AuditLog {
	l := &AuditLog{FormatVersion: FormatVersion, Stack: stack, Events: make([]AuditEntry, 0, len(events))}
	for _, e := range events {
		l.Events = append(l.Events, AuditEntry{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Kind: string(e.Kind), PlanID: e.PlanID, ApplyID: e.ApplyID, Details: e.Details})
	}
	return l
}

// WriteAuditTable writes the audit log as a table, newest first.
func WriteAuditTable(w io.Writer, l *AuditLog) error {
	if len(l.Events) == 0 {
		_, err := fmt.Fprintf(w, "Stack %s has no audit events.\n", l.Stack)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT (UTC)\tEVENT\tACTOR\tPLAN\tAPPLY\tDETAILS")
	for _, e := range l.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Format(timeLayout), e.Kind, e.Actor, shortID(e.PlanID), shortID(e.ApplyID), details(e.Details))
	}
	return tw.Flush()
}

// details renders an event's details as sorted key=value pairs on one line.
func details(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := m[k]
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		s = strings.ReplaceAll(s, "\n", " ")
		if strings.ContainsAny(s, " \t") {
			s = fmt.Sprintf("%q", s)
		}
		parts = append(parts, k+"="+s)
	}
	return strings.Join(parts, " ")
}

// WriteDiff writes d the way the text plan reads: a header per object with
// a unified YAML diff, and a summary line.
func WriteDiff(w io.Writer, d *Diff) error {
	out := &textout.Writer{W: w}
	out.Printf("Stack %s: revision %d (commit %s) → revision %d (commit %s)\n", d.Stack, d.From.Number, object.ShortSHA(d.From.Commit), d.To.Number, object.ShortSHA(d.To.Commit))
	if d.Empty() {
		out.Printf("\nNo differences: both revisions hold the same %d objects.\n", d.Unchanged)
		return out.Err
	}
	section := func(sym, what string, objs []ObjectDiff) {
		for _, o := range objs {
			out.Printf("\n  # %s %s\n%3s %s\n", o.Ref, what, sym, o.Ref)
			for _, line := range render.DiffLines(o.Before, o.After) {
				out.Printf("    %s\n", line)
			}
		}
	}
	section("+", "was added", d.Added)
	section("~", "changed", d.Changed)
	section("-", "was removed", d.Removed)
	out.Printf("\nDiff: %d added, %d changed, %d removed, %d unchanged.\n", len(d.Added), len(d.Changed), len(d.Removed), d.Unchanged)
	return out.Err
}

// RevisionView is the JSON form of one revision's objects, Secret values
// masked.
type RevisionView struct {
	FormatVersion int              `json:"format_version"`
	Stack         string           `json:"stack"`
	Revision      int              `json:"revision"`
	ID            string           `json:"id"`
	Commit        string           `json:"commit"`
	CreatedAt     time.Time        `json:"created_at"`
	RestoredFrom  int              `json:"restored_from,omitempty"`
	Objects       []map[string]any `json:"objects"`
	refs          []object.Ref
}

// NewRevisionView masks rev's sensitive values for showing (rev is read
// sealed: see sealed).
func NewRevisionView(rev *state.Revision) *RevisionView {
	v := &RevisionView{FormatVersion: FormatVersion, Stack: rev.Stack, Revision: rev.Number, ID: rev.ID, Commit: rev.Commit,
		CreatedAt: rev.CreatedAt.UTC(), RestoredFrom: rev.RestoredFromNumber, Objects: make([]map[string]any, 0, len(rev.Objects))}
	for _, u := range rev.Objects {
		v.Objects = append(v.Objects, sealed.Redacted(u).Object)
		v.refs = append(v.refs, object.RefOf(u))
	}
	return v
}

// WriteYAML writes the revision's objects as a multi-document YAML stream.
func (v *RevisionView) WriteYAML(w io.Writer) error {
	for _, m := range v.Objects {
		b, err := yaml.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}

// WriteText writes a header and the list of the revision's objects.
func (v *RevisionView) WriteText(w io.Writer) error {
	out := &textout.Writer{W: w}
	out.Printf("Stack %s, revision %d (%s)\nCommit: %s\nRecorded: %s UTC\n", v.Stack, v.Revision, v.ID, v.Commit, v.CreatedAt.Format(timeLayout))
	if v.RestoredFrom != 0 {
		out.Printf("Restored from revision %d\n", v.RestoredFrom)
	}
	out.Printf("Objects (%d):\n", len(v.refs))
	for _, r := range v.refs {
		out.Printf("  %s\n", r)
	}
	return out.Err
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

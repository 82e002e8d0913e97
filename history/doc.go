// Package history presents what the state store remembers about a stack:
// the table of applied revisions (with a hold, if any), the audit log, and
// the difference between two recorded revisions, object by object and field
// by field. Secret values never appear: revisions are compared as stored
// (sealed), and every rendering masks them.
//
// The queries themselves (which revision was live at a moment, the applies
// of a stack, the audit events) are the state package's; restoring is the
// engine's. This package turns their results into tables, JSON and diffs.
package history

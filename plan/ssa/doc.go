// Package ssa is server-side apply as gantry's plans see it: the projection
// of an object onto the fields a field manager owns (OwnedSet, OwnedView),
// the comparison of a live object with an apply's result on those fields
// (Compare), the keyed fingerprints that let the memo skip a dry-run
// (Fingerprint, DesiredHash), and the field-level diff (FieldDiffs,
// ObjectDiff) with sensitive values masked. No I/O.
package ssa

// Package event holds the kinds of the events gantry records with every
// change of state (the audit log). It does no I/O: the record writes
// events, readers present them.
package event

// Kind is what an event records. Values are stored: stable.
type Kind string

// Event kinds.
const (
	PlanCreated      Kind = "plan.created"
	PlanApproved     Kind = "plan.approved"
	PlanRejected     Kind = "plan.rejected"
	PlanPending      Kind = "plan.pending"
	PlanSuperseded   Kind = "plan.superseded"
	PlanStale        Kind = "plan.stale"
	ApplyDeferred    Kind = "apply.deferred"
	DriftDetected    Kind = "drift.detected"
	CommitRefused    Kind = "commit.refused"
	ApplyRefused     Kind = "apply.refused"
	ApplyStarted     Kind = "apply.started"
	ApplySucceeded   Kind = "apply.succeeded"
	ApplyFailed      Kind = "apply.failed"
	ApplyInterrupted Kind = "apply.interrupted"
	ObjectPruned     Kind = "object.pruned"
	ObjectKept       Kind = "object.kept"
	LockBroken       Kind = "lock.broken"
	LockLost         Kind = "lock.lost"
	StackRestored    Kind = "stack.restored"
	StackHeld        Kind = "stack.held"
	StackResumed     Kind = "stack.resumed"
	StackFailing     Kind = "stack.failing"
	StackRecovered   Kind = "stack.recovered"
	GC               Kind = "gc"
	KeyRotated       Kind = "key.rotated"
)

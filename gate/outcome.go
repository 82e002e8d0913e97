// Package gate decides what becomes of a stack's plan in `gantry run`: its
// approval policy, its drift policy, its windows, the hold, the plan that
// waits at the gate and the plans refused or reported before. Decide is a
// pure function over that data; the engine gathers the data, carries the
// Decision out (records, applies) and reports the Outcome.
package gate

// Outcome is how a reconcile ended. Values appear in metrics and the API:
// stable.
type Outcome string

// Reconcile outcomes.
const (
	// Unchanged: the cluster matches the revision.
	Unchanged Outcome = "unchanged"
	// Applied: a plan was applied (see the report for how it went).
	Applied Outcome = "applied"
	// Pending: a plan waits for approval.
	Pending Outcome = "pending"
	// Deferred: the plan may be applied, but a window holds it.
	Deferred Outcome = "deferred"
	// DriftReported: the plan only undoes drift, and the stack's drift
	// policy is report: recorded, not applied.
	DriftReported Outcome = "drift-reported"
	// Rejected: the plan is one a person rejected; nothing is done until a
	// commit or the cluster changes it.
	Rejected Outcome = "rejected"
	// Refused: the plan cannot be applied as it is (changes known to fail,
	// such as objects another stack owns; a rollback nobody approved; ...):
	// nothing was applied, and the reconcile fails with the reason. The
	// refusal is recorded once per plan; the same plan computed again is
	// refused again without a new record, until a commit or a change in the
	// cluster makes a new plan.
	Refused Outcome = "refused"
	// Held: the stack is held after a restore.
	Held Outcome = "held"
	// Locked: another process holds the stack's lock (it is reconciling or
	// applying the stack); nothing was done.
	Locked Outcome = "locked"
	// Failed: an error stopped the reconcile.
	Failed Outcome = "failed"
)

// Status is where a plan stands at the gate. Values are stored: stable.
type Status string

// Gate statuses.
const (
	// StatusPending: the plan waits for a person to approve or reject it.
	StatusPending Status = "pending"
	// StatusApproved: approved, not applied yet (the engine applies it next).
	StatusApproved Status = "approved"
	// StatusRejected: a person said no; it is never applied.
	StatusRejected Status = "rejected"
	// StatusSuperseded: a newer plan of the stack replaced it.
	StatusSuperseded Status = "superseded"
	// StatusStale: the cluster moved after it was approved; it was
	// re-planned.
	StatusStale Status = "stale"
	// StatusApplied: its apply was started.
	StatusApplied Status = "applied"
)

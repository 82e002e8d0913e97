package event

import "time"

// Data is what an event of one kind says: one type per kind, so that an
// event's kind and its fields cannot disagree. Its JSON is the event's
// "data" (docs/events.md); fields are only ever added.
type Data interface {
	// Kind is the kind of the events carrying this data.
	Kind() Kind
}

// PlanCreatedData: a plan was recorded (with changes, its desired objects
// as a revision), or made without changes (only this event records it).
type PlanCreatedData struct {
	Digest      string `json:"digest"`
	Commit      string `json:"commit,omitempty"`
	HasChanges  bool   `json:"has_changes"`
	Destructive bool   `json:"destructive"`
	Approximate bool   `json:"approximate"`
	// RestoredFrom is the revision a restore plan copies.
	RestoredFrom string `json:"restored_from,omitempty"`
}

// PlanPendingData: the plan waits for a person.
type PlanPendingData struct {
	Reason string `json:"reason"`
}

// PlanApprovedData: a person approved the plan, bound to its digest (at
// the gate), or approved it at apply time (a prompt answered,
// --allow-destructive, --allow-rollback), destructive or a rollback.
type PlanApprovedData struct {
	Digest      string `json:"digest,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Destructive bool   `json:"destructive"`
	// DestructiveReasons and Rollback say what was approved at apply time.
	DestructiveReasons []string `json:"destructive_reasons,omitempty"`
	Rollback           string   `json:"rollback,omitempty"`
}

// PlanRejectedData: a person rejected the plan.
type PlanRejectedData struct {
	Digest      string `json:"digest,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Destructive bool   `json:"destructive"`
}

// PlanSupersededData: a newer plan (or the cluster matching the commit)
// closed the plan waiting at the gate.
type PlanSupersededData struct {
	Reason string `json:"reason"`
}

// PlanStaleData: the cluster moved after the plan was approved (or the key
// its digest was keyed with was rotated); it is planned again.
type PlanStaleData struct {
	Reason string `json:"reason"`
}

// ApplyDeferredData: the plan may be applied but a window holds it.
type ApplyDeferredData struct {
	Reason string `json:"reason"`
}

// DriftDetectedData: objects changed out of band, and the stack's drift
// policy is report.
type DriftDetectedData struct {
	// Drifted names the objects (group/kind/namespace/name as plans show them).
	Drifted []string `json:"drifted"`
}

// CommitRefusedData: a commit's signature did not verify; nothing of it
// was rendered.
type CommitRefusedData struct {
	Commit string `json:"commit"`
	Error  string `json:"error"`
}

// ApplyRefusedData: the plan's apply was refused before its first write.
type ApplyRefusedData struct {
	Error string `json:"error"`
}

// ApplyStartedData: an apply began, its intent on record.
type ApplyStartedData struct {
	// Changes is how many changes the apply may make.
	Changes int `json:"changes"`
}

// ApplyEnd is how an apply ended.
type ApplyEnd struct {
	// InventoryGeneration is the generation of the inventory the apply left
	// (0 when it was recovered after its process died).
	InventoryGeneration int64 `json:"inventory_generation,omitempty"`
	// Objects is how many outcomes were recorded.
	Objects int    `json:"objects,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ApplySucceededData: every change was made (and pruned) as planned.
type ApplySucceededData ApplyEnd

// ApplyFailedData: a change failed; later phases and prune were skipped.
type ApplyFailedData ApplyEnd

// ApplyInterruptedData: the apply stopped before it ended (cancelled, its
// lock or its record lost, or its process died).
type ApplyInterruptedData ApplyEnd

// ObjectData: what an apply's prune did with one object.
type ObjectData struct {
	// Object is group/kind/namespace/name as plans show it.
	Object string `json:"object"`
	// Result is deleted, terminating (held by finalizers), or kept.
	Result string `json:"result"`
}

// ObjectPrunedData: an apply deleted an object the revision no longer
// renders (or asked to: terminating).
type ObjectPrunedData ObjectData

// ObjectKeptData: an apply left alone an object it was to prune, because
// it changed hands since the plan.
type ObjectKeptData ObjectData

// LockBrokenData: a person broke a stack's lock (gantry force-unlock).
type LockBrokenData struct {
	LockID string    `json:"lock_id"`
	Holder string    `json:"holder"`
	Host   string    `json:"host"`
	PID    int       `json:"pid"`
	Since  time.Time `json:"since"`
	// SessionEnded: the holder's database session was ended with it.
	SessionEnded bool `json:"session_ended"`
}

// LockLostData: an apply stopped writing because its lock was lost.
type LockLostData struct {
	Error string `json:"error"`
}

// StackRestoredData: a restore was applied: the stack runs a recorded
// revision, and is held (stack.held follows).
type StackRestoredData struct {
	// RestoredFrom is the revision copied.
	RestoredFrom string `json:"restored_from"`
}

// StackHeldData: the stack is held after a restore: applies of Git are
// refused until a newer commit or gantry resume.
type StackHeldData struct{}

// StackResumedData: the hold was lifted.
type StackResumedData struct {
	Reason       string     `json:"reason,omitempty"`
	HeldRevision int        `json:"held_revision,omitempty"`
	HeldSince    *time.Time `json:"held_since,omitempty"`
}

// StackFailingData: the stack's reconciles failed this many times in a
// row (gantry run): recorded once, when they reach the threshold.
type StackFailingData struct {
	Failures int    `json:"failures"`
	Phase    string `json:"phase"`
	Error    string `json:"error"`
}

// StackRecoveredData: a reconcile succeeded after the stack was failing.
type StackRecoveredData struct {
	// Failures is how many failed in a row before it.
	Failures int `json:"failures"`
}

// GCData: gantry gc deleted old revisions.
type GCData struct {
	Keep      int        `json:"keep,omitempty"`
	OlderThan *time.Time `json:"older_than,omitempty"`
	Revisions int        `json:"revisions"`
	Plans     int        `json:"plans"`
	Applies   int        `json:"applies"`
	Objects   int        `json:"objects"`
}

// KeyRotatedData: the database's Secrets were sealed with a new key.
type KeyRotatedData struct {
	SecretsResealed int `json:"secrets_resealed"`
	PlansStale      int `json:"plans_stale"`
}

// Kind methods: the one place a data type is tied to its kind.

func (PlanCreatedData) Kind() Kind      { return PlanCreated }
func (PlanPendingData) Kind() Kind      { return PlanPending }
func (PlanApprovedData) Kind() Kind     { return PlanApproved }
func (PlanRejectedData) Kind() Kind     { return PlanRejected }
func (PlanSupersededData) Kind() Kind   { return PlanSuperseded }
func (PlanStaleData) Kind() Kind        { return PlanStale }
func (ApplyDeferredData) Kind() Kind    { return ApplyDeferred }
func (DriftDetectedData) Kind() Kind    { return DriftDetected }
func (CommitRefusedData) Kind() Kind    { return CommitRefused }
func (ApplyRefusedData) Kind() Kind     { return ApplyRefused }
func (ApplyStartedData) Kind() Kind     { return ApplyStarted }
func (ApplySucceededData) Kind() Kind   { return ApplySucceeded }
func (ApplyFailedData) Kind() Kind      { return ApplyFailed }
func (ApplyInterruptedData) Kind() Kind { return ApplyInterrupted }
func (StackFailingData) Kind() Kind     { return StackFailing }
func (StackRecoveredData) Kind() Kind   { return StackRecovered }
func (ObjectPrunedData) Kind() Kind     { return ObjectPruned }
func (ObjectKeptData) Kind() Kind       { return ObjectKept }
func (LockBrokenData) Kind() Kind       { return LockBroken }
func (LockLostData) Kind() Kind         { return LockLost }
func (StackRestoredData) Kind() Kind    { return StackRestored }
func (StackHeldData) Kind() Kind        { return StackHeld }
func (StackResumedData) Kind() Kind     { return StackResumed }
func (GCData) Kind() Kind               { return GC }
func (KeyRotatedData) Kind() Kind       { return KeyRotated }

// Kinds are every kind, each with a zero value of its data.
var Kinds = map[Kind]Data{
	StackFailing:   StackFailingData{},
	StackRecovered: StackRecoveredData{},
	PlanCreated:    PlanCreatedData{}, PlanPending: PlanPendingData{}, PlanApproved: PlanApprovedData{},
	PlanRejected: PlanRejectedData{}, PlanSuperseded: PlanSupersededData{}, PlanStale: PlanStaleData{},
	ApplyDeferred: ApplyDeferredData{}, DriftDetected: DriftDetectedData{}, CommitRefused: CommitRefusedData{},
	ApplyRefused: ApplyRefusedData{}, ApplyStarted: ApplyStartedData{}, ApplySucceeded: ApplySucceededData{},
	ApplyFailed: ApplyFailedData{}, ApplyInterrupted: ApplyInterruptedData{}, ObjectPruned: ObjectPrunedData{},
	ObjectKept: ObjectKeptData{}, LockBroken: LockBrokenData{}, LockLost: LockLostData{},
	StackRestored: StackRestoredData{}, StackHeld: StackHeldData{}, StackResumed: StackResumedData{},
	GC: GCData{}, KeyRotated: KeyRotatedData{},
}

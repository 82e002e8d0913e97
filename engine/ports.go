package engine

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/kube"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/source/artifact"
	"github.com/gantryops/gantry/source/helmrepo"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// The engine's ports: what it needs of the record, of Git and of the
// cluster, declared here by the engine itself. *state.Store (through New),
// *source.Fetcher and *kube.Cluster are the real ones; tests may give
// others (NewWith). Kubernetes and Postgres stay real in the integration
// tests.

// Record is what the engine needs of the record.
type Record interface {
	// Stacks: the stack's row, inventory and memo.
	EnsureStack(ctx context.Context, name string) (*state.Stack, error)
	ReadStack(ctx context.Context, name string) (*state.Stack, error)
	CreateStack(ctx context.Context, name string, salt []byte) (*state.Stack, error)
	Inventory(ctx context.Context, stack string) (int64, []plan.InventoryObject, error)
	Memo(ctx context.Context, stack string) (map[object.Ref]plan.MemoEntry, error)
	PutMemo(ctx context.Context, stack string, entries map[object.Ref]plan.MemoEntry) error
	// Locks: one holder per stack.
	Lock(ctx context.Context, stack, holder, planID string, timeout time.Duration) (StackLock, error)
	RecoverDead(ctx context.Context, stack, actor string) error
	// Plans and the gate.
	RecordPlan(ctx context.Context, p *state.PlanRecord) error
	Plan(ctx context.Context, ref string) (*state.PlanRecord, error)
	PlanBody(ctx context.Context, ref string) (*state.PlanRecord, error)
	RecordGate(ctx context.Context, r state.GateRecord) error
	LatestGate(ctx context.Context, stack string) (*state.Gate, error)
	Gates(ctx context.Context, stack string, status gate.Status, limit int) ([]*state.Gate, error)
	Supersede(ctx context.Context, stack, keep, actor, why string, at time.Time) error
	CloseGate(ctx context.Context, planID string, from, to gate.Status, actor, why string, at time.Time) (bool, error)
	Decide(ctx context.Context, d state.Decision) (*state.Gate, error)
	// Applies.
	StartApply(ctx context.Context, a state.ApplyStart) error
	RecordOutcomes(ctx context.Context, applyID string, outcomes []state.Outcome) error
	FinishApply(ctx context.Context, f state.ApplyFinish) (int64, error)
	LastApplyOf(ctx context.Context, revisionID string, t time.Time) (planID string, finishedAt time.Time, err error)
	// Revisions, the live one and the hold.
	Revision(ctx context.Context, id string) (*state.Revision, error)
	RevisionWithProof(ctx context.Context, id string, candidates map[object.Ref]*unstructured.Unstructured) (*state.Revision, error)
	ResolveRevision(ctx context.Context, stack, ref string) (*state.RevisionInfo, error)
	LiveRevisionAt(ctx context.Context, stack string, t time.Time) (*state.RevisionInfo, time.Time, error)
	LiveCommit(ctx context.Context, stack string) (string, error)
	HashedSecrets(ctx context.Context, revisionID string) ([]object.Ref, error)
	HoldOf(ctx context.Context, stack string) (*state.Hold, error)
	// The event feed, and the database's health.
	Audit(ctx context.Context, e state.AuditEvent) error
	Ping(ctx context.Context) error
}

// StackLock is a stack's lock, held.
type StackLock interface {
	// Holder says who holds it.
	Holder() state.LockHolder
	// RecoverDead closes the applies of holders that died.
	RecoverDead(ctx context.Context) (int, error)
	// Check fails once the lock is no longer held (state.ErrLockLost).
	Check(ctx context.Context) error
	Release(ctx context.Context) error
}

// Source is what the engine needs of Git.
type Source interface {
	Fetch(ctx context.Context, repo, ref string) (*source.Commit, error)
	IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error)
}

// Charts is what the engine needs of Helm repositories
// (*helmrepo.Client): a chart version resolved, and its archive.
type Charts interface {
	Resolve(ctx context.Context, repoURL, name, constraint string) (*helmrepo.Version, error)
	Pull(ctx context.Context, v *helmrepo.Version) ([]byte, error)
}

// Artifacts is what the engine needs of OCI registries
// (*artifact.Client): an artifact resolved to its digest, and its files.
type Artifacts interface {
	Resolve(ctx context.Context, a stack.Artifact) (*artifact.Artifact, error)
	Pull(ctx context.Context, a *artifact.Artifact) (*source.Commit, error)
}

// Target is a cluster plans are applied to: what planning reads (Cluster)
// and what applying writes (apply.Cluster).
type Target interface {
	apply.Cluster
	Host() string
	Stats() kube.Stats
}

// store is *state.Store as the engine's Record: its Lock gives a
// StackLock.
type store struct{ *state.Store }

func (s store) Lock(ctx context.Context, stack, holder, planID string, timeout time.Duration) (StackLock, error) {
	l, err := s.Store.Lock(ctx, stack, holder, planID, timeout)
	if err != nil {
		return nil, err
	}
	return l, nil
}

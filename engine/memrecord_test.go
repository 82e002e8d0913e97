package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
)

// memRecord is the engine's Record held in memory, with the record's rules
// the engine's sequence depends on: one lock holder per stack, one open
// plan per stack at the gate, decisions only on pending plans, the
// inventory replaced only at the generation read, a hold after a restore.
// Revisions are found by number or ID, not by time.
type memRecord struct {
	mu      sync.Mutex
	stacks  map[string]*state.Stack
	inv     map[string][]plan.InventoryObject
	memo    map[string]map[object.Ref]plan.MemoEntry
	locks   map[string]bool
	plans   map[string]*state.PlanRecord
	gates   []*state.Gate // oldest first
	applies map[string]*memApply
	holds   map[string]*state.Hold
	events  []state.AuditEvent
	// revisions are the plans' revisions, in the order recorded: a stack's
	// revision number is its place among the stack's.
	revisions []*state.Revision
}

type memApply struct {
	start    state.ApplyStart
	status   state.ApplyStatus
	outcomes []state.Outcome
	finished time.Time
}

func newMemRecord() *memRecord {
	return &memRecord{stacks: map[string]*state.Stack{}, inv: map[string][]plan.InventoryObject{}, memo: map[string]map[object.Ref]plan.MemoEntry{},
		locks: map[string]bool{}, plans: map[string]*state.PlanRecord{}, applies: map[string]*memApply{}, holds: map[string]*state.Hold{}}
}

var errNotHeld = errors.New("the in-memory record finds no revision by time (restore --at is tested against Postgres)")

func salt() []byte { return bytes.Repeat([]byte{7}, 32) }

func (m *memRecord) stack(name string) *state.Stack {
	st, ok := m.stacks[name]
	if !ok {
		st = &state.Stack{Name: name, Salt: salt(), HashKey: object.HashKey(salt())}
		m.stacks[name] = st
	}
	return st
}

func (m *memRecord) EnsureStack(_ context.Context, name string) (*state.Stack, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := *m.stack(name)
	return &st, nil
}

func (m *memRecord) ReadStack(_ context.Context, name string) (*state.Stack, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.stacks[name]; ok {
		c := *st
		return &c, nil
	}
	return &state.Stack{Name: name, Salt: salt(), HashKey: object.HashKey(salt())}, nil
}

func (m *memRecord) CreateStack(_ context.Context, name string, s []byte) (*state.Stack, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.stacks[name]; !ok {
		m.stacks[name] = &state.Stack{Name: name, Salt: s, HashKey: object.HashKey(s)}
	}
	st := *m.stacks[name]
	return &st, nil
}

func (m *memRecord) Inventory(_ context.Context, stack string) (int64, []plan.InventoryObject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stack(stack).InventoryGeneration, append([]plan.InventoryObject(nil), m.inv[stack]...), nil
}

func (m *memRecord) Memo(_ context.Context, stack string) (map[object.Ref]plan.MemoEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[object.Ref]plan.MemoEntry{}
	for k, v := range m.memo[stack] {
		out[k] = v
	}
	return out, nil
}

func (m *memRecord) PutMemo(_ context.Context, stack string, entries map[object.Ref]plan.MemoEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putMemo(stack, entries)
	return nil
}

func (m *memRecord) putMemo(stack string, entries map[object.Ref]plan.MemoEntry) {
	if m.memo[stack] == nil {
		m.memo[stack] = map[object.Ref]plan.MemoEntry{}
	}
	for k, v := range entries {
		m.memo[stack][k] = v
	}
}

// memLock is a stack's lock in memory.
type memLock struct {
	m      *memRecord
	holder state.LockHolder
}

func (l *memLock) Holder() state.LockHolder                 { return l.holder }
func (l *memLock) RecoverDead(context.Context) (int, error) { return 0, nil }
func (l *memLock) Check(context.Context) error              { return nil }
func (l *memLock) Release(context.Context) error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	delete(l.m.locks, l.holder.Stack)
	return nil
}

func (m *memRecord) Lock(_ context.Context, stack, holder, planID string, _ time.Duration) (engine.StackLock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[stack] {
		return nil, &state.LockedError{Stack: stack}
	}
	m.locks[stack] = true
	return &memLock{m: m, holder: state.LockHolder{Stack: stack, Holder: holder, PlanID: planID}}, nil
}

func (m *memRecord) RecoverDead(context.Context, string, string) error { return nil }

func (m *memRecord) audit(e state.AuditEvent) {
	e.Kind, e.At = e.Data.Kind(), time.Now()
	m.events = append(m.events, e)
}

func (m *memRecord) recordPlan(p *state.PlanRecord) error {
	if old, ok := m.plans[p.ID]; ok {
		if old.Digest != p.Digest {
			return fmt.Errorf("record plan %s: the id is taken by another plan", p.ID)
		}
		return nil
	}
	m.plans[p.ID] = p
	if p.Revision != nil {
		m.revisions = append(m.revisions, p.Revision)
	}
	m.audit(state.AuditEvent{Stack: p.Stack, Actor: p.CreatedBy, PlanID: p.ID, Data: event.PlanCreatedData{Digest: p.Digest, HasChanges: p.HasChanges}})
	return nil
}

func (m *memRecord) RecordPlan(_ context.Context, p *state.PlanRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recordPlan(p)
}

func (m *memRecord) planOf(ref string) (*state.PlanRecord, error) {
	var found []*state.PlanRecord
	for id, p := range m.plans {
		if strings.HasPrefix(id, ref) {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("plan %s: %w", ref, state.ErrNotFound)
	}
	return found[0], nil
}

func (m *memRecord) Plan(_ context.Context, ref string) (*state.PlanRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.planOf(ref)
}

func (m *memRecord) PlanBody(ctx context.Context, ref string) (*state.PlanRecord, error) {
	return m.Plan(ctx, ref)
}

func (m *memRecord) supersede(stack, keep, actor, why string) {
	for _, g := range m.gates {
		if g.Stack == stack && g.Open() && g.PlanID != keep {
			g.Status, g.DecidedBy, g.DecisionReason = gate.StatusSuperseded, actor, why
			m.audit(state.AuditEvent{Stack: stack, Actor: actor, PlanID: g.PlanID, Data: event.PlanSupersededData{Reason: why}})
		}
	}
}

func (m *memRecord) pend(planID, stack, reason, actor string, at time.Time) {
	m.supersede(stack, planID, actor, "superseded by plan "+planID)
	for _, g := range m.gates {
		if g.PlanID == planID {
			return
		}
	}
	p := m.plans[planID]
	m.gates = append(m.gates, &state.Gate{Latest: gate.Latest{PlanID: planID, Status: gate.StatusPending, Digest: p.Digest, Commit: p.Revision.Commit, Reason: reason},
		Stack: stack, PendedAt: at, Destructive: p.Destructive, CreatedAt: p.CreatedAt})
	m.audit(state.AuditEvent{Stack: stack, Actor: actor, PlanID: planID, Data: event.PlanPendingData{Reason: reason}})
}

func (m *memRecord) RecordGate(_ context.Context, r state.GateRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Plan != nil {
		if err := m.recordPlan(r.Plan); err != nil {
			return err
		}
	}
	if r.Supersede != "" {
		keep := ""
		if r.KeepPlan {
			keep = r.PlanID
		}
		m.supersede(r.Stack, keep, r.Actor, r.Supersede)
	}
	if r.Pend != "" {
		m.pend(r.PlanID, r.Stack, r.Pend, r.Actor, r.At)
	}
	if r.Event != nil {
		m.audit(state.AuditEvent{Stack: r.Stack, Actor: r.Actor, PlanID: r.PlanID, Data: r.Event})
	}
	return nil
}

func (m *memRecord) Gates(_ context.Context, stack string, status gate.Status, limit int) ([]*state.Gate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*state.Gate
	for i := len(m.gates) - 1; i >= 0; i-- {
		g := m.gates[i]
		if (stack == "" || g.Stack == stack) && (status == "" || g.Status == status) {
			c := *g
			out = append(out, &c)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memRecord) LatestGate(ctx context.Context, stack string) (*state.Gate, error) {
	gates, err := m.Gates(ctx, stack, "", 1)
	if err != nil || len(gates) == 0 {
		return nil, err
	}
	return gates[0], nil
}

func (m *memRecord) Supersede(_ context.Context, stack, keep, actor, why string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.supersede(stack, keep, actor, why)
	return nil
}

func (m *memRecord) CloseGate(_ context.Context, planID string, from, to gate.Status, actor, why string, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.gates {
		if g.PlanID == planID && g.Status == from {
			g.Status = to
			if to == gate.StatusStale {
				m.audit(state.AuditEvent{Stack: g.Stack, Actor: actor, PlanID: planID, Data: event.PlanStaleData{Reason: why}})
			}
			return true, nil
		}
	}
	return false, nil
}

func (m *memRecord) Decide(_ context.Context, d state.Decision) (*state.Gate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.planOf(d.PlanID)
	if err != nil {
		return nil, err
	}
	for _, g := range m.gates {
		if g.PlanID != p.ID {
			continue
		}
		if g.Status != gate.StatusPending {
			return nil, fmt.Errorf("%w: plan %s is %s", state.ErrNotPending, g.PlanID, g.Status)
		}
		var data event.Data = event.PlanRejectedData{Digest: g.Digest, Reason: d.Reason}
		g.Status, g.DecidedBy, g.DecisionReason = gate.StatusRejected, d.Actor, d.Reason
		if d.Approve {
			g.Status, g.ApprovedDigest = gate.StatusApproved, g.Digest
			data = event.PlanApprovedData{Digest: g.Digest, Reason: d.Reason}
		}
		m.audit(state.AuditEvent{Stack: g.Stack, Actor: d.Actor, PlanID: g.PlanID, Data: data})
		c := *g
		return &c, nil
	}
	return nil, fmt.Errorf("%w: plan %s never waited for approval", state.ErrNotPending, p.ID)
}

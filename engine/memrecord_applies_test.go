package engine_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func (m *memRecord) StartApply(_ context.Context, a state.ApplyStart) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applies[a.ID] = &memApply{start: a, status: state.ApplyRunning, outcomes: append([]state.Outcome(nil), a.Intent...)}
	m.audit(state.AuditEvent{Stack: a.Stack, Actor: a.Actor, PlanID: a.PlanID, ApplyID: a.ID, Data: event.ApplyStartedData{Changes: len(a.Intent)}})
	return nil
}

func (m *memRecord) RecordOutcomes(_ context.Context, applyID string, outcomes []state.Outcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applies[applyID].outcomes = append(m.applies[applyID].outcomes, outcomes...)
	return nil
}

func (m *memRecord) FinishApply(_ context.Context, f state.ApplyFinish) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.stack(f.Stack)
	if st.InventoryGeneration != f.ExpectGeneration {
		return 0, fmt.Errorf("finish apply %s: %w", f.ID, state.ErrInventoryMoved)
	}
	st.InventoryGeneration++
	m.inv[f.Stack] = append([]plan.InventoryObject(nil), f.Inventory...)
	m.putMemo(f.Stack, f.Memo)
	a := m.applies[f.ID]
	a.status, a.outcomes, a.finished = f.Status, f.Outcomes, f.FinishedAt
	end := event.ApplyEnd{InventoryGeneration: st.InventoryGeneration, Objects: len(f.Outcomes), Error: f.Error}
	var data event.Data = event.ApplyFailedData(end)
	switch f.Status {
	case state.ApplySucceeded:
		data = event.ApplySucceededData(end)
		delete(m.holds, f.Stack)
		if f.Restore {
			rev := m.plans[f.PlanID].Revision
			m.holds[f.Stack] = &state.Hold{Revision: m.info(rev), Since: f.FinishedAt, By: f.Actor, AgainstCommit: m.liveCommit(f.Stack)}
		}
	case state.ApplyInterrupted:
		data = event.ApplyInterruptedData(end)
	}
	m.audit(state.AuditEvent{Stack: f.Stack, Actor: f.Actor, PlanID: f.PlanID, ApplyID: f.ID, Data: data})
	return st.InventoryGeneration, nil
}

// info describes rev: its number is its place among the stack's revisions.
func (m *memRecord) info(rev *state.Revision) state.RevisionInfo {
	n := 0
	for _, r := range m.revisions {
		if r.Stack == rev.Stack {
			n++
		}
		if r == rev {
			break
		}
	}
	return state.RevisionInfo{ID: rev.ID, Stack: rev.Stack, Commit: rev.Commit, Number: n, RestoredFrom: rev.RestoredFrom, Objects: len(rev.Objects)}
}

// LastApplyOf is the last succeeded apply of a plan of the revision.
func (m *memRecord) LastApplyOf(_ context.Context, revisionID string, at time.Time) (string, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var planID string
	var finished time.Time
	for _, a := range m.applies {
		p := m.plans[a.start.PlanID]
		if a.status == state.ApplySucceeded && p.Revision.ID == revisionID && (at.IsZero() || !a.finished.After(at)) && a.finished.After(finished) {
			planID, finished = p.ID, a.finished
		}
	}
	if planID == "" {
		return "", time.Time{}, state.ErrNotFound
	}
	return planID, finished, nil
}

func (m *memRecord) Revision(_ context.Context, id string) (*state.Revision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.revisions {
		if r.ID == id {
			c := *r
			c.Objects = nil
			for _, u := range r.Objects {
				c.Objects = append(c.Objects, u.DeepCopy())
			}
			return &c, nil
		}
	}
	return nil, fmt.Errorf("revision %s: %w", id, state.ErrNotFound)
}

func (m *memRecord) RevisionWithProof(ctx context.Context, id string, _ map[object.Ref]*unstructured.Unstructured) (*state.Revision, error) {
	return m.Revision(ctx, id)
}

// ResolveRevision finds a revision of the stack by number or ID.
func (m *memRecord) ResolveRevision(_ context.Context, stack, ref string) (*state.RevisionInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.revisions {
		if info := m.info(r); r.Stack == stack && (fmt.Sprint(info.Number) == ref || r.ID == ref) {
			return &info, nil
		}
	}
	return nil, fmt.Errorf("revision %s of %s: %w", ref, stack, state.ErrNotFound)
}

func (m *memRecord) LiveRevisionAt(context.Context, string, time.Time) (*state.RevisionInfo, time.Time, error) {
	return nil, time.Time{}, errNotHeld
}

func (m *memRecord) HashedSecrets(context.Context, string) ([]object.Ref, error) { return nil, nil }

// LiveCommit is the commit of the stack's last succeeded apply.
func (m *memRecord) LiveCommit(_ context.Context, stack string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.liveCommit(stack), nil
}

func (m *memRecord) liveCommit(stack string) string {
	for i := len(m.events) - 1; i >= 0; i-- {
		e := m.events[i]
		if e.Stack == stack && e.Kind == event.ApplySucceeded {
			return m.plans[e.PlanID].Revision.Commit
		}
	}
	return ""
}

func (m *memRecord) HoldOf(_ context.Context, stack string) (*state.Hold, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.holds[stack], nil
}

func (m *memRecord) Audit(_ context.Context, e state.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Data == nil {
		return errors.New("an event without data")
	}
	m.audit(e)
	return nil
}

func (m *memRecord) Ping(context.Context) error { return nil }

// kinds are the kinds of the events recorded, oldest first.
func (m *memRecord) kinds() []event.Kind {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []event.Kind
	for _, e := range m.events {
		out = append(out, e.Kind)
	}
	return out
}

package state_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/state"
)

// TestStorageIsContentAddressed: 100 revisions of a 1,000-object stack, each
// changing 10 objects, store at most 1,000 + 100×10 object rows.
func TestStorageIsContentAddressed(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	ctx := context.Background()
	versions := make([]int, 1000)
	for rev := range 100 {
		for i := range 10 {
			versions[(rev*10+i)%1000] = rev + 1 // ten objects change in each revision
		}
		objs := configMaps(1000, func(i int) string { return fmt.Sprint(versions[i]) })
		r := &state.Revision{ID: state.NewID(), Stack: "big", Commit: fmt.Sprintf("%040x", rev), Digest: object.Hash{byte(rev)}, Objects: objs}
		if err := s.PutRevision(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rows := countWhere(t, dsn, "objects", "true")
	t.Logf("100 revisions of 1,000 objects, 10 changed each: %d object rows, %d revision rows, %d membership rows",
		rows, countWhere(t, dsn, "revisions", "true"), countWhere(t, dsn, "revision_objects", "true"))
	if rows > 1000+100*10 {
		t.Errorf("%d object rows, want at most %d", rows, 1000+100*10)
	}
	if n := countWhere(t, dsn, "revisions", "number BETWEEN 1 AND 100"); n != 100 {
		t.Errorf("revisions numbered 1..100: %d", n)
	}
}

func TestResolveRevision(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		r := &state.Revision{ID: state.NewID(), Stack: "web", Commit: fmt.Sprintf("%040x", i), Digest: object.Hash{byte(i)}, Objects: configMaps(1, func(int) string { return fmt.Sprint(i) })}
		if err := s.PutRevision(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	for ref, want := range map[string]int{"2": 2, ids[2]: 3, ids[0][:8]: 1} {
		got, err := s.ResolveRevision(ctx, "web", ref)
		if err != nil || got.Number != want {
			t.Errorf("ResolveRevision(%q) = %+v, %v; want number %d", ref, got, err, want)
		}
	}
	for ref, want := range map[string]string{"9": "has no revision 9", "zz-top": "give its number", ids[0][:8] + "0000": "has no revision"} {
		if _, err := s.ResolveRevision(ctx, "web", ref); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveRevision(%q): err = %v, want %q", ref, err, want)
		}
	}
	if _, err := s.ResolveRevision(ctx, "nope", "1"); !errors.Is(err, state.ErrNotFound) || !strings.Contains(err.Error(), `no stack "nope"`) {
		t.Errorf("unknown stack: %v", err)
	}
}

// appliedRevision records a plan and a succeeded apply of it finishing at.
func appliedRevision(t *testing.T, s *state.Store, stack string, n int, at time.Time, objs []*unstructured.Unstructured) string {
	t.Helper()
	ctx := context.Background()
	planID, applyID := state.NewID(), state.NewID()
	err := s.RecordPlan(ctx, &state.PlanRecord{ID: planID, Stack: stack, Digest: fmt.Sprint("d", n), Body: []byte(`{}`), HasChanges: true,
		Revision: &state.Revision{ID: state.NewID(), Stack: stack, Commit: fmt.Sprintf("%040x", n), Digest: object.Hash{byte(n), 1}, Objects: objs}, CreatedBy: "t", CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartApply(ctx, state.ApplyStart{ID: applyID, PlanID: planID, Stack: stack, Actor: "t", StartedAt: at.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	gen, _, _ := s.Inventory(ctx, stack)
	if _, err := s.FinishApply(ctx, state.ApplyFinish{ID: applyID, PlanID: planID, Stack: stack, Actor: "t", Status: state.ApplySucceeded, ExpectGeneration: gen, FinishedAt: at}); err != nil {
		t.Fatal(err)
	}
	return planID
}

func TestLiveRevisionAt(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		appliedRevision(t, s, "web", i, base.Add(time.Duration(i)*time.Hour).Add(300*time.Millisecond), configMaps(1, func(int) string { return fmt.Sprint(i) }))
	}
	for at, want := range map[time.Time]int{
		base.Add(time.Hour):                          1, // the second apply completed at 13:00:00.3, not yet live at 13:00:00
		base.Add(time.Hour + 300*time.Millisecond):   2,
		base.Add(90 * time.Minute):                   2,
		base.Add(48 * time.Hour):                     3,
		base.Add(300*time.Millisecond + time.Second): 1,
	} {
		rev, _, err := s.LiveRevisionAt(ctx, "web", at)
		if err != nil || rev.Number != want {
			t.Errorf("LiveRevisionAt(%s) = %v, %v; want revision %d", at.Format(time.RFC3339Nano), rev, err, want)
		}
	}
	_, _, err := s.LiveRevisionAt(ctx, "web", base)
	if !errors.Is(err, state.ErrNothingLive) || !strings.Contains(err.Error(), "first apply completed at 2026-11-01T12:00:00Z") {
		t.Errorf("before the first apply: %v", err)
	}
}

func TestGCKeepsWhatItMust(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	ctx := context.Background()
	base := time.Now().Add(-100 * time.Hour)
	var plans []string
	for i := range 6 {
		// Each revision: one object of its own, one shared by all.
		objs := append(configMaps(1, func(int) string { return "shared" }), &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": fmt.Sprint("own-", i), "namespace": "app"}}})
		plans = append(plans, appliedRevision(t, s, "web", i, base.Add(time.Duration(i)*time.Hour), objs))
	}
	audit := countWhere(t, dsn, "audit_events", "true")
	if _, err := s.GC(ctx, "web", state.GCOptions{}); !errors.Is(err, state.ErrNothingToKeep) {
		t.Errorf("gc without a rule: %v", err)
	}
	res, err := s.GC(ctx, "web", state.GCOptions{Keep: 2, Actor: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Revisions != 4 || res.Plans != 4 || res.Applies != 4 || res.Objects != 4 {
		t.Errorf("gc --keep 2 deleted %+v, want 4 revisions, plans, applies and objects", res)
	}
	if n := countWhere(t, dsn, "revisions", "true"); n != 2 {
		t.Errorf("revisions left: %d, want 2", n)
	}
	if n := countWhere(t, dsn, "objects", "true"); n != 3 {
		t.Errorf("objects left: %d, want the shared one and two own ones", n)
	}
	if n := countWhere(t, dsn, "audit_events", "true"); n != audit+1 {
		t.Errorf("audit events: %d, want the %d before and one for gc", n, audit)
	}
	// The live revision survives any rule.
	if _, err := s.GC(ctx, "web", state.GCOptions{OlderThan: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, "web", 0)
	if err != nil || len(h) != 1 || h[0].PlanID != plans[5] || h[0].Revision.Number != 6 {
		t.Errorf("after gc of everything but the live revision: %+v, %v", h, err)
	}
}

func TestRevisionWithProof(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t) // no GANTRY_SECRET_KEY: salted hashes only
	ctx := context.Background()
	secret := func(password string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db", "namespace": "app"},
			"data": map[string]any{"password": base64.StdEncoding.EncodeToString([]byte(password))},
		}}
	}
	r := &state.Revision{ID: state.NewID(), Stack: "web", Objects: []*unstructured.Unstructured{secret("hunter2")}}
	if err := s.PutRevision(ctx, r); err != nil {
		t.Fatal(err)
	}
	ref := object.RefOf(secret(""))
	got, err := s.RevisionWithProof(ctx, r.ID, map[object.Ref]*unstructured.Unstructured{ref: secret("hunter2")})
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := unstructured.NestedString(got.Objects[0].Object, "data", "password"); v != base64.StdEncoding.EncodeToString([]byte("hunter2")) {
		t.Errorf("proven value %q", v)
	}
	for name, candidates := range map[string]map[object.Ref]*unstructured.Unstructured{
		"changed in Git": {ref: secret("something else")},
		"gone from Git":  {},
	} {
		if _, err := s.RevisionWithProof(ctx, r.ID, candidates); !errors.Is(err, state.ErrSecretUnproven) || !strings.Contains(err.Error(), "Secret/app/db") {
			t.Errorf("%s: err = %v, want ErrSecretUnproven naming the Secret", name, err)
		}
	}
}

package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/stack"
	"github.com/gantryops/gantry/state"
)

// revisionFiles renders revision i (1-based) of a stack whose object set
// and values move from revision to revision: ConfigMap cm-j exists when
// (i+j)%4 != 0 (so every revision drops some objects and brings others
// back), holds a value that changes every third revision, and "marker"
// changes every time.
func revisionFiles(i int) (map[string]string, map[string]map[string]string) {
	var doc strings.Builder
	want := map[string]map[string]string{}
	add := func(name, v string) {
		doc.WriteString(configMapDoc(name, v))
		want[name] = map[string]string{"v": v}
	}
	add("marker", fmt.Sprint(i))
	for j := range 8 {
		if (i+j)%4 != 0 {
			add(fmt.Sprintf("cm-%d", j), fmt.Sprint(i/3))
		}
	}
	return map[string]string{"deploy/cms.yaml": doc.String()}, want
}

// liveConfigMaps returns the stack's ConfigMaps in ns by name.
func liveConfigMaps(t *testing.T, ns, stackName string) map[string]map[string]string {
	t.Helper()
	list, err := env.Clientset(t).CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "gantry.dev/stack=" + stackName})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, cm := range list.Items {
		out[cm.Name] = cm.Data
	}
	return out
}

// TestRestoreAtAnyInstant applies 20 revisions at controlled times, deletes
// the Git repository, and restores random instants between (and exactly at)
// the applies: each restores exactly the revision live then, pruning and
// recreating objects. Retention afterwards keeps what it must.
func TestRestoreAtAnyInstant(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	repo := gittest.NewRepo(t)
	def := stackDef("timeline", ns)
	def.MaxPrunePercent = 100
	def.Source = stack.Source{Repo: repo.Dir, Ref: "main", Path: "deploy"}
	s := env.NewStack(t, def)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	appliedAt := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }
	wants := map[int]map[string]map[string]string{}
	for i := 1; i <= 20; i++ {
		files, want := revisionFiles(i)
		repo.Commit(fmt.Sprint("revision ", i), files)
		wants[i] = want
		s.Clock.Set(appliedAt(i))
		p, err := s.Engine.Plan(ctx, engine.PlanRequest{Stack: s.Def, Cluster: s.Kube, Actor: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		s.Apply(t, p)
	}
	if got := liveConfigMaps(t, ns, "timeline"); !cmp.Equal(wants[20], got) {
		t.Fatalf("after 20 applies (-want +got)\n%s", cmp.Diff(wants[20], got))
	}
	history, err := s.Store.History(ctx, "timeline", 0)
	if err != nil || len(history) != 20 {
		t.Fatalf("history: %d entries, %v", len(history), err)
	}
	for _, h := range history {
		if h.Status != state.ApplySucceeded || !h.FinishedAt.Equal(appliedAt(h.Revision.Number)) {
			t.Fatalf("revision %d applied %s at %v, want succeeded at %v", h.Revision.Number, h.Status, h.FinishedAt, appliedAt(h.Revision.Number))
		}
	}

	// Git is gone: restore needs nothing from it (no Secrets here).
	if err := os.RemoveAll(repo.Dir); err != nil {
		t.Fatal(err)
	}

	// Instants: the exact completion of an apply (that revision), the
	// microsecond before it (the one before), and random moments between.
	seed := uint64(time.Now().UnixNano())
	t.Logf("random instants from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	instants := []time.Time{appliedAt(7), appliedAt(7).Add(-time.Microsecond), appliedAt(1), appliedAt(20)}
	for range 8 {
		span := appliedAt(20).Add(30 * time.Minute).Sub(appliedAt(1))
		instants = append(instants, appliedAt(1).Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Microsecond))
	}
	creates, deletes := 0, 0
	for k, at := range instants {
		want := int(at.Sub(t0) / time.Hour) // the last apply finished by then
		s.Clock.Set(appliedAt(21).Add(time.Duration(k) * time.Minute))
		r, err := s.Engine.Restore(ctx, engine.RestoreRequest{Stack: "timeline", Cluster: s.Kube, At: at, Actor: "oncall"})
		if err != nil {
			t.Fatalf("restore at %s: %v", at, err)
		}
		if r.Revision.Number != want || !r.AppliedAt.Equal(appliedAt(want)) {
			t.Fatalf("restore at %s chose revision %d (applied %s), want %d", at.Format(time.RFC3339Nano), r.Revision.Number, r.AppliedAt, want)
		}
		if r.Plan.RestoredFrom != r.Revision.ID || r.Plan.Options.Namespace != ns {
			t.Errorf("restore plan: restored_from %q, namespace %q", r.Plan.RestoredFrom, r.Plan.Options.Namespace)
		}
		add, _, destroy := r.Plan.Summary()
		creates, deletes = creates+add, deletes+destroy
		if r.Plan.HasChanges() {
			s.Apply(t, r.Plan)
		}
		if got := liveConfigMaps(t, ns, "timeline"); !cmp.Equal(wants[want], got) {
			t.Fatalf("restored to %s (revision %d): live (-want +got)\n%s", at, want, cmp.Diff(wants[want], got))
		}
		if next, err := s.Engine.Restore(ctx, engine.RestoreRequest{Stack: "timeline", Cluster: s.Kube, At: at}); err != nil || next.Plan.HasChanges() {
			t.Fatalf("restoring %s again is not empty: %v %v", at, err, next.Plan.Changes)
		}
	}
	if creates == 0 || deletes == 0 {
		t.Errorf("the restores created %d and deleted %d objects: the case does not exercise recreation and pruning", creates, deletes)
	}
	history, err = s.Store.History(ctx, "timeline", 0)
	if err != nil {
		t.Fatal(err)
	}
	latest := history[0]
	if latest.Revision.RestoredFromNumber == 0 || latest.Revision.Number <= 20 {
		t.Errorf("the last restore is recorded as revision %d restored from %d", latest.Revision.Number, latest.Revision.RestoredFromNumber)
	}
	hold, err := s.Store.HoldOf(ctx, "timeline")
	if err != nil || hold == nil || hold.Revision.ID != latest.Revision.ID || hold.AgainstCommit != history[len(history)-20].Revision.Commit {
		t.Fatalf("hold after the restores: %+v, %v; want held at the last restore against revision 20's commit", hold, err)
	}

	testRetention(t, s, history, appliedAt(15))
}

// testRetention runs gc on the timeline and checks that it keeps the live,
// held and most recent revisions, deletes the rest with their objects, and
// leaves the audit log intact.
func testRetention(t *testing.T, s *harness.Stack, history []state.HistoryEntry, fifteenth time.Time) {
	ctx := context.Background()
	audit := countRows(t, s, "audit_events", "true")
	revisions := countRows(t, s, "revisions", "true")
	if _, err := s.Store.GC(ctx, "timeline", state.GCOptions{}); !errors.Is(err, state.ErrNothingToKeep) {
		t.Errorf("gc without a rule: %v", err)
	}
	// --older-than: revisions recorded and last applied before revision 15
	// was applied go, but not the live or held one (the restores are newer).
	res, err := s.Store.GC(ctx, "timeline", state.GCOptions{OlderThan: fifteenth, Actor: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Revisions != 14 {
		t.Errorf("gc --older-than deleted %d revisions, want 14 (1 to 14)", res.Revisions)
	}
	for n, want := range map[string]bool{"14": false, "15": true, "20": true} {
		if _, err := s.Store.ResolveRevision(ctx, "timeline", n); (err == nil) != want {
			t.Errorf("after gc --older-than, revision %s: %v", n, err)
		}
	}
	res, err = s.Store.GC(ctx, "timeline", state.GCOptions{Keep: 3, Actor: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gc --keep 3: %+v of %d revisions", res, revisions)
	if res.Revisions == 0 || res.Objects == 0 {
		t.Errorf("gc deleted nothing: %+v", res)
	}
	if got := countRows(t, s, "audit_events", "true"); got != audit+2 {
		t.Errorf("audit events: %d before two gc runs, %d after; want two more (the gc runs), none deleted", audit, got)
	}
	// The three most recent applies' revisions are kept, loadable whole;
	// nothing else is, and no stored object is left unreferenced.
	for _, h := range history[:3] {
		if _, err := s.Store.Revision(ctx, h.Revision.ID); err != nil {
			t.Errorf("revision %d, kept, does not load: %v", h.Revision.Number, err)
		}
	}
	if got := countRows(t, s, "revisions", "true"); got != 3 {
		t.Errorf("%d revisions after gc --keep 3, want 3", got)
	}
	if got := countRows(t, s, "objects o", "NOT EXISTS (SELECT 1 FROM revision_objects ro WHERE ro.object_hash = o.hash)"); got != 0 {
		t.Errorf("%d stored objects no revision references after gc", got)
	}
	// An old revision is gone and says so; the held one stays.
	if _, err := s.Engine.Restore(ctx, engine.RestoreRequest{Stack: "timeline", Cluster: s.Kube, To: "2"}); err == nil || !strings.Contains(err.Error(), "has no revision 2") {
		t.Errorf("restore of a collected revision: %v", err)
	}
	hold, err := s.Store.HoldOf(ctx, "timeline")
	if err != nil || hold == nil {
		t.Fatalf("the hold is gone after gc: %v", err)
	}
	if _, err := s.Store.Revision(ctx, hold.Revision.ID); err != nil {
		t.Errorf("held revision after gc: %v", err)
	}
}

// TestHoldAgainstAGoneCommit: when the commit a hold is against is no longer
// in the stack's repository (history rewritten, or the stack moved to another
// repository), whatever the ref points at now counts as newer.
func TestHoldAgainstAGoneCommit(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	old := gittest.NewRepo(t)
	def := stackDef("moved", ns)
	def.Source = stack.Source{Repo: old.Dir, Ref: "main", Path: "deploy"}
	s := env.NewStack(t, def)
	planHead := func() error {
		p, err := s.Engine.Plan(ctx, engine.PlanRequest{Stack: s.Def, Cluster: s.Kube})
		if err != nil {
			return err
		}
		_, err = s.TryApply(p, true, harness.ApplyOptions())
		return err
	}
	var commits []string
	for i := 1; i <= 3; i++ {
		commits = append(commits, old.Commit(fmt.Sprint(i), map[string]string{"deploy/cm.yaml": configMapDoc("a", fmt.Sprint(i))}))
		if err := planHead(); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Engine.Restore(ctx, engine.RestoreRequest{Stack: "moved", Cluster: s.Kube, To: "1"})
	if err != nil {
		t.Fatal(err)
	}
	s.Apply(t, r.Plan)
	// The feed has the restore, the hold and the apply's end, in that
	// order, of that apply (newest first here).
	events, err := s.Store.AuditLog(ctx, "moved", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || events[0].Kind != event.ApplySucceeded || events[1].Kind != event.StackHeld || events[2].Kind != event.StackRestored ||
		events[2].ApplyID != events[0].ApplyID || events[2].Details["restored_from"] != r.Plan.RestoredFrom || r.Plan.RestoredFrom == "" {
		t.Errorf("the newest events after the restore: %+v; want stack.restored (from %q), stack.held, apply.succeeded", events, r.Plan.RestoredFrom)
	}
	if err := planHead(); !errors.Is(err, engine.ErrHeld) || !strings.Contains(err.Error(), "is the commit the restore replaced") {
		t.Fatalf("apply of the old HEAD while held: %v", err)
	}
	s.Def.Source.Ref = commits[1] // older still, and not what was restored
	if err := planHead(); !errors.Is(err, engine.ErrHeld) || !strings.Contains(err.Error(), "is an ancestor of "+commits[2][:12]) {
		t.Fatalf("apply of an older commit while held: %v", err)
	}
	s.Def.Source.Ref = "main"
	moved := gittest.NewRepo(t)
	moved.Commit("elsewhere", map[string]string{"deploy/cm.yaml": configMapDoc("a", "moved")})
	s.Def.Source.Repo = moved.Dir
	if err := planHead(); err != nil {
		t.Fatalf("apply from a repository without the held-against commit: %v", err)
	}
	if got := liveConfigMaps(t, ns, "moved")["a"]["v"]; got != "moved" {
		t.Errorf("a = %q, want moved", got)
	}
	if hold, err := s.Store.HoldOf(ctx, "moved"); err != nil || hold != nil {
		t.Errorf("hold after a newer commit: %+v, %v", hold, err)
	}
}

package state_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
)

// TestRotateKey: gantry db rotate-key's store half, on a database that
// holds Secrets sealed with the key, Secrets stored as hashes before any
// key was used, a plan approved at the gate and memo entries. Afterwards
// the old key is refused and the new one reads every Secret back exactly;
// the hashed ones are untouched, no body sealed with the old key is left,
// the approved plan is stale (its digest was keyed with the old key) with
// its audit event, the memo is empty, each stack's log has key.rotated,
// and a store still open with the old key writes nothing more.
func TestRotateKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	open := func(key string) *state.Store {
		t.Helper()
		s, err := state.Open(ctx, state.Options{DatabaseURL: dsn, SecretKey: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	hashed := putSecretRevision(t, open(""), "pin-hashed-1")
	old := open(keyA)
	sealed := putSecretRevision(t, old, "pin-sealed-2")
	planID := recordPlan(t, old, "web")
	if err := old.Pend(ctx, planID, "web", "manual approval", "engine", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Decide(ctx, state.Decision{PlanID: planID, Approve: true, Actor: "alice", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := old.PutMemo(ctx, "web", map[object.Ref]plan.MemoEntry{{Kind: "ConfigMap", Namespace: "app", Name: "cm-000"}: {}}); err != nil {
		t.Fatal(err)
	}
	hashedBefore, err := old.SealedRevision(ctx, hashed.ID)
	if err != nil {
		t.Fatal(err)
	}
	oldBodies := dbValue[int](t, dsn, `SELECT count(*) FROM objects WHERE position('"gantry:aes256gcm:v1:'::bytea IN body) > 0`)

	// An apply in progress holds its stack's lock: nothing changes.
	lock, err := old.Lock(ctx, "web", "bob", planID, 0)
	if err != nil {
		t.Fatal(err)
	}
	rotator := open(keyA)
	if _, err := rotator.RotateKey(ctx, keyB, "carol"); !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "stop gantry run") {
		t.Fatalf("rotating while a stack is locked: %v, want ErrLocked saying what to do", err)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := open(keyA).Revision(ctx, sealed.ID); err != nil {
		t.Fatalf("after a refused rotation the old key no longer reads: %v", err)
	}

	res, err := rotator.RotateKey(ctx, keyB, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if want := (state.RotateResult{Secrets: oldBodies, Plans: 1, MemoEntries: 1}); *res != want {
		t.Errorf("RotateKey = %+v, want %+v", *res, want)
	}

	_, err = state.Open(ctx, state.Options{DatabaseURL: dsn, SecretKey: keyA})
	checkKeyRefusal(t, "the old key after rotation", err, state.ErrSecretKeyDiffers)
	err = old.PutRevision(ctx, &state.Revision{ID: state.NewID(), Stack: "web", Objects: []*unstructured.Unstructured{annotatedSecret("pin-late-3")}})
	checkKeyRefusal(t, "a store opened with the old key before the rotation", err, state.ErrSecretKeyDiffers)

	fresh := open(keyB)
	loaded, err := fresh.Revision(ctx, sealed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sealed.Objects[0].Object, loaded.Objects[0].Object); diff != "" {
		t.Errorf("the Secret read back with the new key (-stored +loaded)\n%s", diff)
	}
	if _, err := rotator.Revision(ctx, sealed.ID); err != nil {
		t.Errorf("the rotating store does not read with the new key: %v", err)
	}
	hashedAfter, err := fresh.SealedRevision(ctx, hashed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(hashedBefore.Objects, hashedAfter.Objects); diff != "" {
		t.Errorf("a Secret stored as hashes changed (-before +after)\n%s", diff)
	}
	if got := dbValue[int](t, dsn, `SELECT count(*) FROM objects o WHERE NOT EXISTS (SELECT 1 FROM revision_objects ro WHERE ro.object_hash = o.hash)`); got != 0 {
		t.Errorf("%d objects no revision holds are left behind", got)
	}
	for _, id := range []string{sealed.ID, hashed.ID} {
		if _, err := fresh.SealedRevision(ctx, id); err != nil {
			t.Errorf("revision %s after rotation: %v", id, err)
		}
	}
	g, err := fresh.LatestGate(ctx, "web")
	if err != nil || g.Status != gate.StatusStale || !strings.Contains(g.DecisionReason, "rotated") {
		t.Errorf("the approved plan after rotation: %+v, %v; want stale, saying why", g, err)
	}
	if memo, err := fresh.Memo(ctx, "web"); err != nil || len(memo) != 0 {
		t.Errorf("memo after rotation: %v, %v; want none", memo, err)
	}
	events, err := fresh.AuditLog(ctx, "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	kinds := make([]string, len(events))
	for i, e := range events {
		kinds[i] = string(e.Kind)
	}
	if !strings.HasPrefix(strings.Join(kinds, " "), "key.rotated plan.stale") {
		t.Errorf("audit log after rotation: %v, want key.rotated after plan.stale, newest first", kinds)
	}

	if _, err := fresh.RotateKey(ctx, keyB, "carol"); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("rotating to the same key: %v", err)
	}
}

// TestRotateKeyWithoutKey: a database whose Secrets are stored as hashes
// has no key to rotate: the refusal says how to start using one.
func TestRotateKeyWithoutKey(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	putSecretRevision(t, s, "pin-5")
	_, err := s.RotateKey(context.Background(), keyB, "carol")
	if !errors.Is(err, state.ErrNotSealedWithKey) || !strings.Contains(err.Error(), "set GANTRY_SECRET_KEY") {
		t.Errorf("RotateKey without a key: %v", err)
	}
}

package state_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/state"
)

func TestEnsureStackSalt(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	ctx := context.Background()
	a, err := s.EnsureStack(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.EnsureStack(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.EnsureStack(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Salt) != 32 || !bytes.Equal(a.Salt, again.Salt) || bytes.Equal(a.Salt, b.Salt) {
		t.Errorf("salts: a=%x again=%x b=%x; want 32 bytes, stable per stack, distinct between stacks", a.Salt, again.Salt, b.Salt)
	}
	if _, err := s.EnsureStack(ctx, "Not_Valid"); err == nil {
		t.Error("an invalid stack name was accepted")
	}
}

func TestInventoryGeneration(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	ctx := context.Background()
	st, err := s.EnsureStack(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	objs := []plan.InventoryObject{
		{Ref: object.Ref{Kind: "Namespace", Name: "web"}, APIVersion: "v1"},
		{Ref: object.Ref{Group: "apps", Kind: "Deployment", Namespace: "web", Name: "api"}, APIVersion: "apps/v1"},
	}
	gen, err := s.SetInventory(ctx, "web", st.InventoryGeneration, objs)
	if err != nil {
		t.Fatal(err)
	}
	if gen != st.InventoryGeneration+1 {
		t.Errorf("generation %d, want %d", gen, st.InventoryGeneration+1)
	}
	gotGen, got, err := s.Inventory(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	want := objs // ordered as object.Compare orders: the core group ("") first
	if diff := cmp.Diff(want, got); diff != "" || gotGen != gen {
		t.Errorf("inventory at generation %d (-want +got)\n%s", gotGen, diff)
	}
	// A writer holding an old generation loses, and changes nothing.
	if _, err := s.SetInventory(ctx, "web", st.InventoryGeneration, nil); !errors.Is(err, state.ErrInventoryMoved) {
		t.Errorf("SetInventory with a stale generation: %v, want ErrInventoryMoved", err)
	}
	if _, got, _ := s.Inventory(ctx, "web"); len(got) != 2 {
		t.Errorf("a refused SetInventory changed the inventory to %v", got)
	}
}

func TestMemoUpsert(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	ctx := context.Background()
	if _, err := s.EnsureStack(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	a := object.Ref{Kind: "ConfigMap", Namespace: "web", Name: "a"}
	b := object.Ref{Kind: "ConfigMap", Namespace: "web", Name: "b"}
	first := map[object.Ref]plan.MemoEntry{a: {Desired: object.Hash{1}, Live: object.Hash{2}}, b: {Desired: object.Hash{3}, Live: object.Hash{4}}}
	if err := s.PutMemo(ctx, "web", first); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMemo(ctx, "web", map[object.Ref]plan.MemoEntry{a: {Desired: object.Hash{5}, Live: object.Hash{6}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Memo(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	want := map[object.Ref]plan.MemoEntry{a: {Desired: object.Hash{5}, Live: object.Hash{6}}, b: first[b]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("memo (-want +got)\n%s", diff)
	}
}

package state_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gantryops/gantry/state"
	"github.com/gantryops/gantry/state/statetest"
)

func TestOpenUsesEmbeddedWhenNoURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := state.DefaultOptions()
	opts.Embedded.Dir, opts.Embedded.Fast = statetest.TempDir(t), true
	s, err := state.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Embedded().Stop(ctx) })
	defer s.Close()
	if s.Embedded() == nil || !strings.Contains(s.Where(), opts.Embedded.Dir) {
		t.Errorf("Where() = %q, want the embedded directory", s.Where())
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v < 1 {
		t.Errorf("SchemaVersion = %d, %v; want migrated", v, err)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://gantry:hunter2@db:5432/gantry":                "postgres://gantry:REDACTED@db:5432/gantry",
		"postgres://db/gantry?user=g&password=hunter2":            "postgres://db/gantry?password=REDACTED&user=g",
		"host=db port=5433 user=g password=hunter2 dbname=gantry": "host=db port=5433 user=g dbname=gantry",
	} {
		if got := state.RedactURL(in); got != want || strings.Contains(got, "hunter2") {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

package integration

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/stack"
)

var services = schema.GroupVersionResource{Version: "v1", Resource: "services"}

func engineRequest(s *harness.Stack, p *plan.Plan, lockTimeout time.Duration) engine.ApplyRequest {
	return engine.ApplyRequest{Plan: p, Cluster: s.Kube, Actor: "test", Approved: true, LockTimeout: lockTimeout, Options: harness.ApplyOptions()}
}

// queryRow runs a query on the stack's database.
func queryRow(t *testing.T, s *harness.Stack, sql string, args ...any) pgx.Row {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn.QueryRow(context.Background(), sql, args...)
}

func countRows(t *testing.T, s *harness.Stack, from, where string) int {
	t.Helper()
	var n int
	if err := queryRow(t, s, "SELECT count(*) FROM "+from+" WHERE "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func stackDef(name, ns string) stack.Stack {
	return stack.Stack{Name: name, Target: stack.Target{Namespace: ns}, Prune: true, MaxPrunePercent: 25}
}

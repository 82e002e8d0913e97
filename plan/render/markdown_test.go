package render

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/plantest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test ./plan -update rewrites it)\n%s", path, diff)
	}
}

func markdown(t *testing.T, p *plan.Plan, opts MarkdownOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := Markdown(&b, p, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMarkdownSmall(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	p.Changes, p.Destructive = p.Changes[:2], nil // a create and an update
	p.BaseCommit = "fedcba9876543210fedcba9876543210fedcba98"
	p.Options.Namespace = "n"
	opts := DefaultMarkdownOptions()
	opts.Marker = "gantry:plan stack=shop"
	got := markdown(t, p, opts)
	golden(t, "markdown/small.md", got)
	for _, want := range []string{"<!-- gantry:plan stack=shop -->", "`fedcba987654` (applied) → `0123456789ab`", "<details open>", "namespace `n`"} {
		if !strings.Contains(got, want) {
			t.Errorf("small plan lacks %q", want)
		}
	}
}

func TestMarkdownDestructive(t *testing.T) {
	t.Parallel()
	got := markdown(t, plantest.Example(t), DefaultMarkdownOptions())
	golden(t, "markdown/destructive.md", got)
	for _, want := range []string{"> **This plan is destructive**", "Destroyed: `Namespace/gone` (delete), `Service/n/s` (replace)", "nothing applied yet"} {
		if !strings.Contains(got, want) {
			t.Errorf("destructive plan lacks %q", want)
		}
	}
	if strings.Contains(got, "<details open>") {
		t.Error("a plan of 4 objects shows its diffs expanded")
	}
}

// TestMarkdownWarnings: the hold after a restore and a rollback on a stack
// that verifies signatures are said in the pull-request plan too, not only
// in the text plan, escaped like any string from the record.
func TestMarkdownWarnings(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	p.Held = "the stack is held at revision 3 <!-- after a restore"
	p.Rollback = "commit 0123456789ab is older than 89abcdef0123, the last commit applied"
	got := markdown(t, p, DefaultMarkdownOptions())
	for _, want := range []string{
		"> [!WARNING]\n> the stack is held at revision 3 \\<\\!-- after a restore\n",
		"> [!WARNING]\n> commit 0123456789ab is older than 89abcdef0123, the last commit applied.\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("markdown plan lacks %q:\n%s", want, got)
		}
	}
}

// bigPlan changes n ConfigMaps, each holding a 2 KB value.
func bigPlan(t *testing.T, n int) *plan.Plan {
	p := plantest.Example(t)
	p.Changes, p.Destructive, p.Desired = nil, nil, nil
	for i := range n {
		p.Desired = append(p.Desired, objtest.Parse(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%04d, namespace: \"n\"}\n", i)))
		p.Changes = append(p.Changes, plan.Change{
			Ref: object.Ref{Kind: "ConfigMap", Namespace: "n", Name: fmt.Sprintf("cm-%04d", i)}, APIVersion: "v1", Action: plan.ActionUpdate,
			Before: objtest.Parse(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%04d}\ndata: {v: %s}\n", i, strings.Repeat("a", 2000))),
			After:  objtest.Parse(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%04d}\ndata: {v: %s}\n", i, strings.Repeat("b", 2000))),
		})
	}
	return p
}

func TestMarkdownTruncated(t *testing.T) {
	t.Parallel()
	opts := DefaultMarkdownOptions()
	opts.FullCommand = "gantry show 1234abcd"
	got := markdown(t, bigPlan(t, 60), opts)
	golden(t, "markdown/truncated.md", got)
	if len(got) > opts.Budget {
		t.Errorf("%d characters, over the budget of %d", len(got), opts.Budget)
	}
	shown := strings.Count(got, "<details>")
	if shown == 0 || shown == 60 {
		t.Fatalf("%d of 60 diffs shown, want some but not all", shown)
	}
	if !strings.Contains(got, fmt.Sprintf("The diffs of %d of 60 changed objects (from `ConfigMap/n/cm-%04d` on) are not shown", 60-shown, shown)) ||
		!strings.Contains(got, "Run `gantry show 1234abcd` to see them all.") {
		t.Errorf("no note of what was cut, or not the command:\n%s", got[len(got)-400:])
	}
	if strings.Count(got, "| `~` | `ConfigMap/n/cm-") != 60 {
		t.Error("the table does not list every changed object")
	}
}

// TestMarkdownHugeTable: when even the table would not fit, it is cut too,
// and the comment stays within the budget.
func TestMarkdownHugeTable(t *testing.T) {
	t.Parallel()
	opts := DefaultMarkdownOptions()
	got := markdown(t, bigPlan(t, 3000), opts)
	if len(got) > opts.Budget {
		t.Errorf("%d characters, over the budget of %d", len(got), opts.Budget)
	}
	if !strings.Contains(got, "more objects | |") || !strings.Contains(got, "**Plan: 0 to add, 3000 to change, 0 to destroy.**") {
		t.Errorf("the cut table does not say how many rows it left out, or the summary is missing")
	}
}

func TestMarkdownNoChanges(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	p.Changes, p.Destructive = nil, nil
	golden(t, "markdown/nochanges.md", markdown(t, p, DefaultMarkdownOptions()))
}

package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/planfile"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/sensitive"
	"github.com/gantryops/gantry/stack"
)

// TestSecretCanaryNeverShown plans a Secret (stringData and data) through
// create, no change, rotation and an out-of-band edit, and checks that its
// values appear in no rendering, no planfile as shown, no log line and no
// Postgres row, in plain or base64 form.
func TestSecretCanaryNeverShown(t *testing.T) {
	t.Parallel()
	const canary, canaryData, rotated, edited = "canary-7f3c9e1b-string", "canary-51d0aa-data", "canary-rotated-9e2c", "canary-edited-04ff"
	b64 := base64.StdEncoding.EncodeToString
	leaks := []string{canary, canaryData, rotated, edited, b64([]byte(canary)), b64([]byte(canaryData)), b64([]byte(rotated)), b64([]byte(edited))}
	secret := func(value string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: " + value + "}\ndata: {token: " + b64([]byte(canaryData)) + "}\n"
	}
	ns := env.Namespace(t)
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	s := env.NewStackWithKey(t, stack.Stack{Name: "canary", Target: stack.Target{Namespace: ns}, Prune: true}, env.DB.NewDatabase(t), key)

	var shown bytes.Buffer
	show := func(p *plan.Plan) {
		t.Helper()
		for _, r := range []func() error{
			func() error { return render.Text(&shown, p, render.TextOptions{Color: true}) },
			func() error { return render.JSON(&shown, p) },
			func() error { return render.Markdown(&shown, p, render.DefaultMarkdownOptions()) },
			func() error { // a planfile as `gantry show` renders it
				var file bytes.Buffer
				if err := planfile.Write(&file, p); err != nil {
					return err
				}
				saved, err := s.Engine.ReadPlanfile(context.Background(), &file)
				if err != nil {
					return err
				}
				if err := render.Text(&shown, saved, render.TextOptions{}); err != nil {
					return err
				}
				return render.JSON(&shown, saved)
			},
		} {
			if err := r(); err != nil {
				t.Fatal(err)
			}
		}
	}

	p := s.Plan(t, parseObjects(t, secret(canary)), plan.DiffAuto)
	show(p)
	// With GANTRY_SECRET_KEY the recorded plan round-trips exactly, Secret
	// values included, and is what gets applied (as gantry apply --plan-id).
	recorded, err := s.Engine.LoadPlan(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p.Desired[0].Object, recorded.Desired[0].Object); diff != "" {
		t.Errorf("the recorded plan's Secret differs (-planned +loaded)\n%s", diff)
	}
	report := s.Apply(t, recorded)
	if report.Outcomes[0].Result != apply.ResultApplied {
		t.Errorf("apply outcome %+v", report.Outcomes[0])
	}
	live, err := s.Dynamic.Resource(secrets).Namespace(ns).Get(context.Background(), "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(live.Object, "data", "password"); got != b64([]byte(canary)) {
		t.Errorf("the applied Secret's password is not the planned one")
	}
	show(s.Plan(t, parseObjects(t, secret(canary)), plan.DiffAuto))
	rotation := s.Plan(t, parseObjects(t, secret(rotated)), plan.DiffServer)
	show(rotation)
	s.Apply(t, rotation)
	show(s.Plan(t, parseObjects(t, secret(canary)), plan.DiffAuto))
	patchAs(t, s, secrets, "db", "kubectl-edit", "", map[string]any{"data": map[string]any{"token": b64([]byte(edited))}})
	drifted := s.Plan(t, parseObjects(t, secret(canary)), plan.DiffAuto)
	show(drifted)
	show(s.Plan(t, parseObjects(t, secret(canary)), plan.DiffLocal))

	// The renderings still say which keys change.
	for _, want := range []string{"password: " + sensitive.Changed, "token: (sensitive value)"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("renderings do not show %q", want)
		}
	}
	if !rotation.HasChanges() || !drifted.HasChanges() {
		t.Errorf("rotating and editing the Secret must be changes: %v, %v", rotation.HasChanges(), drifted.HasChanges())
	}

	rows := dumpDatabase(t, s)
	for where, text := range map[string]string{"a rendering": shown.String(), "a log line": s.Logs.String(), "a Postgres row": rows} {
		for _, leak := range leaks {
			if strings.Contains(text, leak) {
				t.Errorf("%s contains the Secret value %q", where, leak)
			}
		}
	}
	if s.Logs.Len() == 0 || rows == "" {
		t.Fatal("nothing was logged or stored: the test checks nothing")
	}
}

// dumpDatabase returns every row of every table of the stack's database as text.
func dumpDatabase(t *testing.T, s *harness.Stack) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, table := range tables {
		rows, err := conn.Query(ctx, "SELECT t::text FROM "+pgx.Identifier{table}.Sanitize()+" t")
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		// bytea columns print as hex: decode them so a stored value would show.
		for _, r := range texts {
			out.WriteString(table + ": " + r + "\n")
			out.WriteString(decodeHex(r))
		}
	}
	return out.String()
}

var hexRun = regexp.MustCompile(`\\x([0-9a-f]+)`)

// decodeHex decodes the \x... bytea values in a row's text.
func decodeHex(row string) string {
	var out strings.Builder
	for _, m := range hexRun.FindAllStringSubmatch(row, -1) {
		if b, err := hex.DecodeString(m[1]); err == nil {
			out.Write(b)
			out.WriteByte('\n')
		}
	}
	return out.String()
}

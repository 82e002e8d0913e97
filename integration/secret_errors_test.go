package integration

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/uuid"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/stack"
)

// TestSecretValuesNeverInErrors drives Secrets that fail — in local
// prediction, in the server's dry-run, in rendering and at apply — and
// checks that no error, and no log line, holds their values in any form
// (leakForms). Local prediction quoted them (`stringData: {PIN: 918273}`
// printed 918273), and so did kustomize for a bad secretGenerator literal.
func TestSecretValuesNeverInErrors(t *testing.T) {
	t.Parallel()
	secret := func(content string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata: {name: door}\n" + content + "\n"
	}
	for name, tc := range map[string]struct {
		content string
		mode    plan.DiffMode
		values  []string
	}{
		"local, a number in stringData":      {secret("stringData: {PIN: 918273}"), plan.DiffLocal, []string{"918273"}},
		"local, a big number in stringData":  {secret("stringData: {PIN: 91827364512}"), plan.DiffLocal, []string{"91827364512", "9.1827364512e+10"}},
		"local, a list in stringData":        {secret("stringData: {PIN: [918273, canary-in-a-list]}"), plan.DiffLocal, []string{"918273", "canary-in-a-list"}},
		"local, a map in data":               {secret("data: {PIN: {x: canary-in-a-map-77d1}}"), plan.DiffLocal, []string{"canary-in-a-map-77d1"}},
		"local, data not a map":              {secret("data: canary-data-not-a-map-31c4"), plan.DiffLocal, []string{"canary-data-not-a-map-31c4"}},
		"local, a number in data":            {secret("data: {PIN: 918273}"), plan.DiffLocal, []string{"918273"}},
		"server, a number in stringData":     {secret("stringData: {PIN: 918273}"), plan.DiffServer, []string{"918273"}},
		"server, data not base64":            {secret("data: {PIN: canary-not-base64-918273}"), plan.DiffServer, []string{"canary-not-base64-918273"}},
		"server, a map in data":              {secret("data: {PIN: {x: canary-in-a-map-77d1}}"), plan.DiffServer, []string{"canary-in-a-map-77d1"}},
		"auto, an invalid type with a value": {secret("type: [canary-type]\nstringData: {PIN: canary-next-to-a-bad-type}"), plan.DiffAuto, []string{"canary-next-to-a-bad-type"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := env.NewStack(t, stack.Stack{Name: "errors", Target: stack.Target{Namespace: env.Namespace(t)}})
			_, err := s.TryPlan(parseObjects(t, tc.content), tc.mode)
			if err == nil {
				t.Fatal("the Secret was planned: the row tests no error")
			}
			checkNoValues(t, "the error", err.Error(), tc.values)
			checkNoValues(t, "the log", s.Logs.String(), tc.values)
		})
	}

	t.Run("render, a kustomize secretGenerator", func(t *testing.T) {
		t.Parallel()
		for name, files := range map[string]map[string]string{
			"bad literal":  {"/k/kustomization.yaml": "secretGenerator:\n- name: s\n  literals: [PIN918273canary]\n"},
			"bad literal2": {"/k/kustomization.yaml": "resources: [base]\n", "/k/base/kustomization.yaml": "secretGenerator:\n- name: s\n  literals: ['PIN918273canary']\n"},
		} {
			fsys := filesys.MakeFsInMemory()
			for p, c := range files {
				if err := fsys.WriteFile(p, []byte(c)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := source.Render(fsys, "/k", source.DefaultRenderOptions())
			if err == nil {
				t.Fatalf("%s: rendered", name)
			}
			checkNoValues(t, name, err.Error(), []string{"PIN918273canary"})
		}
	})

	t.Run("apply, the server refuses the Secret", func(t *testing.T) {
		t.Parallel()
		s := env.NewStack(t, stack.Stack{Name: "errors", Target: stack.Target{Namespace: env.Namespace(t)}})
		p := s.Plan(t, parseObjects(t, secret("stringData: {PIN: canary-valid-at-plan-0a9e}")), plan.DiffServer)
		// The Secret changes after planning: its data is no longer base64.
		// The plan is re-digested with the stack's key, as only gantry can.
		const bad = "canary-invalid-at-apply-5e2f"
		p.ID = uuid.NewString()
		p.Desired[0].Object["data"] = map[string]any{"PIN": bad}
		delete(p.Desired[0].Object, "stringData")
		st, err := s.Store.ReadStack(context.Background(), s.Def.Name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Digest, err = plan.Digest(p, st.HashKey); err != nil {
			t.Fatal(err)
		}
		report, err := s.TryApply(p, true, harness.ApplyOptions())
		if err == nil || report == nil || len(report.Outcomes) != 1 || report.Outcomes[0].Err == nil {
			t.Fatalf("the apply did not fail on the Secret: %v", err)
		}
		values := []string{bad, "canary-valid-at-plan-0a9e"}
		checkNoValues(t, "the apply's error", err.Error(), values)
		checkNoValues(t, "the outcome", report.Outcomes[0].Err.Error(), values)
		checkNoValues(t, "the log", s.Logs.String(), values)
		checkNoValues(t, "the database", dumpDatabase(t, s), values)
	})
}

// checkNoValues fails the test when text holds any form of any value (or,
// for values that are base64, of what they decode to).
func checkNoValues(t *testing.T, where, text string, values []string) {
	t.Helper()
	for _, v := range values {
		forms := leakForms(v)
		if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) > 0 {
			for name, f := range leakForms(string(b)) {
				forms["decoded "+name] = f
			}
		}
		for name, form := range forms {
			if i := strings.Index(text, form); i >= 0 {
				t.Errorf("%s holds %q (%s of %q): …%s…", where, form, name, v, text[max(0, i-200):min(len(text), i+100)])
			}
		}
	}
}

package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/integration/harness"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/source"
	"github.com/gantryops/gantry/stack"
)

// TestSecretDigestsConfirmNoGuess: the plan and revision digests that
// `gantry plan -o json` prints and the JSON API serves, for a stack whose
// Secret holds a 4-digit PIN, confirm no guess of it. The attacker knows
// everything but the PIN (the repository, the planfile's other content)
// and tries all 10,000 with the unkeyed formulas: nothing matches. With the
// stack's key (which needs GANTRY_SECRET_KEY and the database), the same
// search finds the PIN: the digests are keyed, and the search works.
func TestSecretDigestsConfirmNoGuess(t *testing.T) {
	t.Parallel()
	const pin = "4821"
	files := func(pin string) map[string]string {
		return map[string]string{
			"deploy/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: door}\nstringData: {PIN: \"" + pin + "\"}\n",
			"deploy/cms.yaml":    configMapDoc("settings", "1"),
		}
	}
	ns := env.Namespace(t)
	repo := harness.NewServedRepo(t, files(pin))
	dsn := env.DB.NewDatabase(t)
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	c := newCLI(t, dsn)
	c.env = append(c.env, "GANTRY_SECRET_KEY="+key)
	c.write("gantry.yaml", fmt.Sprintf("apiVersion: gantry.dev/v1alpha1\nkind: Config\nstacks:\n- name: door\n  source: {repo: %s, ref: main, path: deploy}\n  target: {namespace: %s}\n", repo.URL, ns))

	// What is shown: plan -o json, and the same plan through the API.
	js, errOut, code := c.run("plan", "-o", "json")
	if code != 0 {
		t.Fatalf("plan -o json: exit %d\n%s", code, errOut)
	}
	var shown struct {
		ID     string `json:"id"`
		Digest string `json:"digest"`
		Source struct {
			Digest string `json:"digest"`
		} `json:"source"`
	}
	if err := json.Unmarshal([]byte(js), &shown); err != nil || shown.Digest == "" || shown.Source.Digest == "" {
		t.Fatalf("plan -o json: %v\n%s", err, js)
	}
	// What the attacker knows: everything in the planfile but the PIN.
	if _, errOut, code := c.run("plan", "--out", "door.plan"); code != 0 {
		t.Fatalf("plan --out: exit %d\n%s", code, errOut)
	}
	raw, err := os.ReadFile(filepath.Join(c.dir, "door.plan"))
	if err != nil {
		t.Fatal(err)
	}
	var known plan.Plan
	if err := json.Unmarshal(raw, &known); err != nil {
		t.Fatal(err)
	}
	def := stackDef("door", ns)
	def.Source = stack.Source{Repo: repo.URL, Ref: "main", Path: "deploy"}
	s := env.NewStackWithKey(t, def, dsn, key)
	e := harness.StartRunner(t, s, runner.DefaultOptions())
	_, api := e.Do("GET", "/api/v1/plans/"+shown.ID, harness.APIToken, nil, nil)
	var served struct {
		Digest string `json:"digest"`
		Source struct {
			Digest string `json:"digest"`
		} `json:"source"`
	}
	if err := json.Unmarshal([]byte(api), &served); err != nil || served.Digest != shown.Digest || served.Source.Digest != shown.Source.Digest {
		t.Fatalf("the API serves %+v (%v), plan -o json showed %+v", served, err, shown)
	}

	rendered := renderFiles(t, files(pin))
	withPIN := func(pin string) (*plan.Plan, []*unstructured.Unstructured) {
		p := known
		p.Desired = setPIN(known.Desired, pin)
		return &p, setPIN(rendered, pin)
	}

	st, err := s.Store.ReadStack(context.Background(), "door")
	if err != nil {
		t.Fatal(err)
	}
	var unkeyed, keyed []string
	for i := range 10000 {
		guess := fmt.Sprintf("%04d", i)
		p, rendered := withPIN(guess)
		if unkeyedPlanDigest(t, p) == shown.Digest || unkeyedRevisionDigest(t, rendered) == shown.Source.Digest {
			unkeyed = append(unkeyed, guess)
		}
		d, err := plan.Digest(p, st.HashKey)
		if err != nil {
			t.Fatal(err)
		}
		r, err := source.Digest(st.HashKey, rendered)
		if err != nil {
			t.Fatal(err)
		}
		if d == shown.Digest && r.Keyed() == shown.Source.Digest {
			keyed = append(keyed, guess)
		}
	}
	if len(unkeyed) > 0 {
		t.Errorf("the digests shown confirm PIN %v with the unkeyed formulas", unkeyed)
	}
	if !slices.Equal(keyed, []string{pin}) {
		t.Errorf("with the stack's key, the search finds %v, want [%s]: the test searches wrongly", keyed, pin)
	}
}

// setPIN returns objs with the Secret's PIN set to pin.
func setPIN(objs []*unstructured.Unstructured, pin string) []*unstructured.Unstructured {
	out := slices.Clone(objs)
	for i, u := range out {
		if u.GetKind() == "Secret" {
			out[i] = u.DeepCopy()
			out[i].Object["stringData"] = map[string]any{"PIN": pin}
		}
	}
	return out
}

// renderFiles renders the deploy directory of files as the engine does.
func renderFiles(t *testing.T, files map[string]string) []*unstructured.Unstructured {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	for name, content := range files {
		if err := fsys.WriteFile("/"+name, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := source.Render(fsys, "/deploy", source.DefaultRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	rev, err := source.NewRevision("", objs)
	if err != nil {
		t.Fatal(err)
	}
	return rev.Objects
}

// unkeyedRevisionDigest is the revision digest as gantry computed it before
// it was keyed: SHA-256 over the SHA-256 of each object's canonical JSON.
func unkeyedRevisionDigest(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	d := sha256.New()
	for _, u := range objs {
		b, err := object.Canonical(u)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		d.Write(h[:])
	}
	return "sha256:" + hex.EncodeToString(d.Sum(nil))
}

// unkeyedPlanDigest is the plan digest as gantry computed it before it was
// keyed: SHA-256 over the plan's content.
func unkeyedPlanDigest(t *testing.T, p *plan.Plan) string {
	t.Helper()
	desired := make([]any, len(p.Desired))
	for i, u := range p.Desired {
		desired[i] = u.Object
	}
	b, err := json.Marshal(struct {
		FormatVersion       int           `json:"format_version"`
		Stack               string        `json:"stack"`
		Source              plan.Source   `json:"source"`
		Cluster             string        `json:"cluster"`
		Mode                plan.DiffMode `json:"mode"`
		Options             plan.Options  `json:"options"`
		Desired             []any         `json:"desired"`
		Base                []plan.Base   `json:"base"`
		InventoryGeneration int64         `json:"inventory_generation"`
		Changes             []plan.Change `json:"changes"`
		Destructive         []string      `json:"destructive"`
	}{p.FormatVersion, p.Stack, p.Source, p.Cluster, p.Mode, p.Options, desired, p.Base, p.InventoryGeneration, p.Changes, p.Destructive})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

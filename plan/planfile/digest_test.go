package planfile

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/internal/objtest"
	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/plantest"
)

// withPIN is examplePlan desiring also a Secret whose only unknown is pin.
func withPIN(t testing.TB, pin string) *plan.Plan {
	t.Helper()
	p := plantest.Example(t)
	secret := objtest.Parse(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: door, namespace: n}\nstringData: {PIN: \""+pin+"\"}\n")
	p.Desired = append([]*unstructured.Unstructured{secret}, p.Desired...)
	return p
}

// TestPlanDigestConfirmsNoGuess: the digest of a plan desiring a Secret,
// shown by plan -o json, the API and the audit log, cannot confirm a guess
// of the Secret's value without the stack's key. All 10,000 PINs tried with
// the unkeyed formula find nothing; with the key, exactly the PIN.
func TestPlanDigestConfirmsNoGuess(t *testing.T) {
	t.Parallel()
	shown, err := plan.Digest(withPIN(t, "4821"), plantest.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(shown, object.KeyedPrefix) {
		t.Errorf("digest %s does not say it is keyed", shown)
	}
	var unkeyed, withKey []string
	for i := range 10000 {
		p := withPIN(t, fmt.Sprintf("%04d", i))
		if d, _ := legacyDigest(p); strings.TrimPrefix(d, legacyDigestPrefix) == strings.TrimPrefix(shown, object.KeyedPrefix) {
			unkeyed = append(unkeyed, p.Desired[0].Object["stringData"].(map[string]any)["PIN"].(string))
		}
		if d, _ := plan.Digest(p, plantest.Key); d == shown {
			withKey = append(withKey, p.Desired[0].Object["stringData"].(map[string]any)["PIN"].(string))
		}
	}
	if len(unkeyed) > 0 {
		t.Errorf("the unkeyed formula confirms PIN %v from the digest", unkeyed)
	}
	if len(withKey) != 1 || withKey[0] != "4821" {
		t.Errorf("with the key, the search finds %v, want [4821]: the test searches wrongly", withKey)
	}
	if _, err := plan.Digest(withPIN(t, "4821"), nil); err == nil {
		t.Error("a digest without a key was computed")
	}
}

// TestPlanfileDigestNeedsTheStacksKey: a planfile verifies under its
// stack's key only, so an edit cannot be covered by a digest computed
// without it; one written by an older gantry (unkeyed digest) is refused
// with what to do. A plan an older gantry recorded in the database still
// loads, and still refuses edits.
func TestPlanfileDigestNeedsTheStacksKey(t *testing.T) {
	t.Parallel()
	p := withPIN(t, "4821")
	var err error
	if p.Digest, err = plan.Digest(p, plantest.Key); err != nil {
		t.Fatal(err)
	}
	legacy := withPIN(t, "4821")
	if legacy.Digest, err = legacyDigest(legacy); err != nil {
		t.Fatal(err)
	}
	write := func(p *plan.Plan) string {
		var b bytes.Buffer
		if err := Write(&b, p); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	otherKey := func(string) (object.HashKey, error) { return object.HashKey("another database"), nil }
	for name, tc := range map[string]struct {
		file  string
		keyOf KeyOf
		want  string
	}{
		"its key":               {write(p), plantest.KeyOf, ""},
		"another key":           {write(p), otherKey, "does not match its digest"},
		"older gantry":          {write(legacy), plantest.KeyOf, "computed by an older gantry: its digest is not keyed"},
		"keyed, edited":         {strings.Replace(write(p), `"k": "v"`, `"k": "w"`, 1), plantest.KeyOf, "does not match its digest"},
		"edited, digest redone": {strings.Replace(strings.Replace(write(p), `"k": "v"`, `"k": "w"`, 1), p.Digest, redone(t, p), 1), plantest.KeyOf, "computed by an older gantry"},
	} {
		_, err := Read(strings.NewReader(tc.file), tc.keyOf)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}

	body, err := MarshalWithoutDesired(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalWithDesired(body, legacy.Desired, plantest.Key); err != nil {
		t.Errorf("a plan an older gantry recorded does not load: %v", err)
	}
	legacy.Desired[1].Object["data"] = map[string]any{"k": "w"}
	if _, err := UnmarshalWithDesired(body, legacy.Desired, plantest.Key); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("an edited recorded plan of an older gantry: err = %v", err)
	}
}

// redone is the unkeyed digest of p edited as the test edits it: what an
// attacker without the key can give an edited planfile.
func redone(t *testing.T, p *plan.Plan) string {
	t.Helper()
	c := *p
	c.Desired = append([]*unstructured.Unstructured{}, p.Desired...)
	c.Desired[1] = c.Desired[1].DeepCopy()
	c.Desired[1].Object["data"] = map[string]any{"k": "w"}
	d, err := legacyDigest(&c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRestoredFromInDigest: a restore's RestoredFrom is covered by its
// digest, and a plan that is not a restore has the digest it had before
// RestoredFrom was covered. A restore an older gantry recorded (its keyed
// digest without RestoredFrom) still loads from the database; a planfile
// with such a digest does not.
func TestRestoredFromInDigest(t *testing.T) {
	t.Parallel()
	p := plantest.Example(t)
	before, err := plan.KeyedDigest(p, plantest.Key, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != before {
		t.Errorf("the digest of a plan that is not a restore moved: %s, was %s", p.Digest, before)
	}

	restore := plantest.Example(t)
	restore.RestoredFrom = "6f1c1b1e-0000-4000-8000-000000000001"
	if restore.Digest, err = plan.KeyedDigest(restore, plantest.Key, false); err != nil {
		t.Fatal(err)
	}
	body, err := MarshalWithoutDesired(restore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalWithDesired(body, restore.Desired, plantest.Key); err != nil {
		t.Errorf("a restore an older gantry recorded does not load: %v", err)
	}
	var file bytes.Buffer
	if err := Write(&file, restore); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(&file, plantest.KeyOf); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("a planfile whose digest leaves out restored_from: err = %v", err)
	}

}

package planfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// Write writes p in its serialised form (JSON). A planfile holds the
// desired manifests unmasked, Secret data included, because applying it needs
// them: treat it like the Secrets themselves (gantry creates it mode 0600).
func Write(w io.Writer, p *plan.Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("write plan %s: %w", p.ID, err)
	}
	return nil
}

// KeyOf returns the hash key of a stack (state.Stack.HashKey), which plan
// digests are keyed with.
type KeyOf func(stack string) (object.HashKey, error)

// Read reads a plan written by Write. It refuses a format
// version it does not know and a plan whose content does not match its
// digest (edited or damaged), which it checks under the key keyOf returns
// for the plan's stack: without that key, no one can edit a planfile and
// give it a digest that matches.
func Read(r io.Reader, keyOf KeyOf) (*plan.Plan, error) {
	p, err := ReadUnverified(r)
	if err != nil {
		return nil, err
	}
	key, err := keyOf(p.Stack)
	if err != nil {
		return nil, fmt.Errorf("read planfile: %w", err)
	}
	if err := verifyDigest(p, key, false); err != nil {
		return nil, fmt.Errorf("read planfile: %w", err)
	}
	return p, nil
}

// ReadUnverified reads a planfile for showing only: the format version
// is checked, the digest is not (it is keyed with the stack's key, which
// lives with the database). A plan read this way must not be applied:
// Read that.
func ReadUnverified(r io.Reader) (*plan.Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read planfile: %w", err)
	}
	p, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("read planfile: %w", err)
	}
	return p, nil
}

// MarshalWithoutDesired returns the plan's JSON without its desired
// manifests, which callers store elsewhere (sealed); Secret values are
// masked in the rest.
func MarshalWithoutDesired(p *plan.Plan) ([]byte, error) {
	c := *p
	c.Desired = nil
	return json.Marshal(&c)
}

// UnmarshalWithDesired rebuilds a plan from MarshalWithoutDesired's output and
// its desired manifests, refusing unknown format versions and checking that
// the result matches its digest under key, the stack's hash key (or, for a
// plan an older gantry recorded, its unkeyed digest).
func UnmarshalWithDesired(body []byte, desired []*unstructured.Unstructured, key object.HashKey) (*plan.Plan, error) {
	p, err := decode(body)
	if err != nil {
		return nil, err
	}
	p.Desired = desired
	if err := verifyDigest(p, key, true); err != nil {
		return nil, err
	}
	return p, nil
}

// UnmarshalRecorded reads MarshalWithoutDesired's output for showing: the
// format version is checked, but not the digest, which covers the desired
// manifests the body lacks. A plan read this way cannot be applied (Verify
// and Apply need Desired); the store keeps recorded bodies immutable.
func UnmarshalRecorded(body []byte) (*plan.Plan, error) {
	return decode(body)
}

// decode parses a plan, refusing a format version it does not know.
func decode(data []byte) (*plan.Plan, error) {
	var head struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a gantry plan (%v)", err)
	}
	if head.FormatVersion == nil {
		return nil, fmt.Errorf("not a gantry plan: no format_version")
	}
	if *head.FormatVersion != plan.FormatVersion {
		return nil, fmt.Errorf("format version %d is not supported by this gantry (it reads version %d): compute the plan again with this gantry", *head.FormatVersion, plan.FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // large integers must survive exactly, or the digest breaks
	p := &plan.Plan{}
	if err := dec.Decode(p); err != nil {
		return nil, err
	}
	for i, u := range p.Desired {
		if u == nil {
			return nil, fmt.Errorf("plan %s: desired[%d] is null: the plan is damaged; compute the plan again", p.ID, i)
		}
	}
	return p, nil
}

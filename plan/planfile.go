package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// WritePlanfile writes p in its serialised form (JSON). A planfile holds the
// desired manifests unmasked, Secret data included, because applying it needs
// them: treat it like the Secrets themselves (gantry creates it mode 0600).
func WritePlanfile(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("write plan %s: %w", p.ID, err)
	}
	return nil
}

// ReadPlanfile reads a plan written by WritePlanfile. It refuses a format
// version it does not know and a plan whose content does not match its
// digest (edited or damaged).
func ReadPlanfile(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read planfile: %w", err)
	}
	p, err := decode(data, nil)
	if err != nil {
		return nil, fmt.Errorf("read planfile: %w", err)
	}
	return p, nil
}

// MarshalWithoutDesired returns the plan's JSON without its desired
// manifests, which callers store elsewhere (sealed); Secret values are
// masked in the rest.
func MarshalWithoutDesired(p *Plan) ([]byte, error) {
	c := *p
	c.Desired = nil
	return json.Marshal(&c)
}

// UnmarshalWithDesired rebuilds a plan from MarshalWithoutDesired's output and
// its desired manifests, refusing unknown format versions and checking that
// the result matches its digest.
func UnmarshalWithDesired(body []byte, desired []*unstructured.Unstructured) (*Plan, error) {
	return decode(body, desired)
}

// UnmarshalRecorded reads MarshalWithoutDesired's output for showing: the
// format version is checked, but not the digest, which covers the desired
// manifests the body lacks. A plan read this way cannot be applied (Verify
// and Apply need Desired); the store keeps recorded bodies immutable.
func UnmarshalRecorded(body []byte) (*Plan, error) {
	return decodeVerified(body, nil, false)
}

// decode parses a plan, sets desired when given, and verifies the format
// version and the digest.
func decode(data []byte, desired []*unstructured.Unstructured) (*Plan, error) {
	return decodeVerified(data, desired, true)
}

func decodeVerified(data []byte, desired []*unstructured.Unstructured, verify bool) (*Plan, error) {
	var head struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a gantry plan (%v)", err)
	}
	if head.FormatVersion == nil {
		return nil, fmt.Errorf("not a gantry plan: no format_version")
	}
	if *head.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("format version %d is not supported by this gantry (it reads version %d): compute the plan again with this gantry", *head.FormatVersion, FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // large integers must survive exactly, or the digest breaks
	p := &Plan{}
	if err := dec.Decode(p); err != nil {
		return nil, err
	}
	if desired != nil {
		p.Desired = desired
	}
	for i, u := range p.Desired {
		if u == nil {
			return nil, fmt.Errorf("plan %s: desired[%d] is null: the plan is damaged; compute the plan again", p.ID, i)
		}
	}
	if !verify {
		return p, nil
	}
	digest, err := Digest(p)
	if err != nil {
		return nil, err
	}
	if digest != p.Digest {
		return nil, fmt.Errorf("plan %s does not match its digest (recorded %s, content %s): it was edited or damaged; compute the plan again", p.ID, p.Digest, digest)
	}
	return p, nil
}

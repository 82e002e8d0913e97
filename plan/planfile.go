package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
	var head struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("read planfile: not a gantry plan (%v)", err)
	}
	if head.FormatVersion == nil {
		return nil, fmt.Errorf("read planfile: not a gantry plan: no format_version")
	}
	if *head.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("read planfile: format version %d is not supported by this gantry (it reads version %d): compute the plan again with this gantry", *head.FormatVersion, FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // large integers must survive exactly, or the digest breaks
	p := &Plan{}
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("read planfile: %w", err)
	}
	digest, err := Digest(p)
	if err != nil {
		return nil, err
	}
	if digest != p.Digest {
		return nil, fmt.Errorf("read planfile: plan %s does not match its digest (recorded %s, content %s): the file was edited or damaged; compute the plan again", p.ID, p.Digest, digest)
	}
	return p, nil
}

package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gantryops/gantry/object"
)

// Digest returns the digest of what a plan does and depends on: everything
// but its ID, creation time and stats, as an HMAC-SHA256 under the stack's
// hash key ("hmac-sha256:…"). It is keyed because it covers the desired
// manifests, Secret values included: an unkeyed digest, shown by the API,
// plan -o json and the audit log, would confirm a guessed value offline.
func Digest(p *Plan, key object.HashKey) (string, error) {
	b, err := digestContent(p)
	if err != nil {
		return "", err
	}
	h, err := key.Sum("plan", b)
	if err != nil {
		return "", fmt.Errorf("digest of plan %s: %w", p.ID, err)
	}
	return h.Keyed(), nil
}

// legacyDigestPrefix starts the unkeyed digests of plans computed by gantry
// before digests were keyed.
const legacyDigestPrefix = "sha256:"

// legacyDigest is the unkeyed SHA-256 older gantry versions computed; it
// verifies plans they recorded, and is never computed for a new plan.
func legacyDigest(p *Plan) (string, error) {
	b, err := digestContent(p)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return legacyDigestPrefix + hex.EncodeToString(sum[:]), nil
}

// digestContent is what a plan's digest covers, encoded.
func digestContent(p *Plan) ([]byte, error) {
	b, err := json.Marshal(struct {
		FormatVersion       int      `json:"format_version"`
		Stack               string   `json:"stack"`
		Source              Source   `json:"source"`
		Cluster             string   `json:"cluster"`
		Mode                DiffMode `json:"mode"`
		Options             Options  `json:"options"`
		Desired             []any    `json:"desired"`
		Base                []Base   `json:"base"`
		InventoryGeneration int64    `json:"inventory_generation"`
		Changes             []Change `json:"changes"`
		Destructive         []string `json:"destructive"`
	}{p.FormatVersion, p.Stack, p.Source, p.Cluster, p.Mode, p.Options, desiredObjects(p), p.Base, p.InventoryGeneration, p.Changes, p.Destructive})
	if err != nil {
		return nil, fmt.Errorf("digest of plan %s: %w", p.ID, err)
	}
	return b, nil
}

func desiredObjects(p *Plan) []any {
	out := make([]any, len(p.Desired))
	for i, u := range p.Desired {
		out[i] = u.Object
	}
	return out
}

// verifyDigest checks that p matches its digest under key. The unkeyed
// digest of a plan an older gantry computed is accepted only with legacy
// (plans recorded in the database): anyone can compute one, so a planfile
// carrying one could have been edited by anyone.
func verifyDigest(p *Plan, key object.HashKey, legacy bool) error {
	compute := func(p *Plan) (string, error) { return Digest(p, key) }
	if strings.HasPrefix(p.Digest, legacyDigestPrefix) {
		if !legacy {
			return fmt.Errorf("plan %s was computed by an older gantry: its digest is not keyed, so nothing shows the file was not edited since; compute the plan again", p.ID)
		}
		compute = legacyDigest
	}
	digest, err := compute(p)
	if err != nil {
		return err
	}
	if digest != p.Digest {
		return fmt.Errorf("plan %s of stack %s does not match its digest %s: it was edited or damaged, or computed against another database (the digest is keyed with the stack's key, kept there and in GANTRY_SECRET_KEY); compute the plan again",
			p.ID, p.Stack, p.Digest)
	}
	return nil
}

package plan

import (
	"encoding/json"
	"fmt"

	"github.com/gantryops/gantry/object"
)

// Digest returns the digest of what a plan does and depends on: everything
// but its ID, creation time, Approximate flag (Mode decides) and what is
// decided again when it is applied or only shown (Held, Rollback,
// BaseCommit, Stats), as an HMAC-SHA256 under the stack's hash key
// ("hmac-sha256:…"). It is keyed because it covers the desired manifests,
// Secret values included: an unkeyed digest, shown by the API, plan -o json
// and the audit log, would confirm a guessed value offline.
func Digest(p *Plan, key object.HashKey) (string, error) {
	return KeyedDigest(p, key, true)
}

// KeyedDigest is Digest, over RestoredFrom too when restore is set: plans
// recorded before RestoredFrom was covered have digests without it, and
// the planfile codec (plan/planfile) still verifies them.
func KeyedDigest(p *Plan, key object.HashKey, restore bool) (string, error) {
	b, err := DigestContent(p, restore)
	if err != nil {
		return "", err
	}
	h, err := key.Sum("plan", b)
	if err != nil {
		return "", fmt.Errorf("digest of plan %s: %w", p.ID, err)
	}
	return h.Keyed(), nil
}

// DigestContent is what a plan's digest covers, encoded; RestoredFrom only
// with restore. The planfile codec hashes it unkeyed to verify the plans
// older gantry versions recorded. RestoredFrom is left out when empty, so that the digests of
// plans that are not restores are what they were before it was covered.
func DigestContent(p *Plan, restore bool) ([]byte, error) {
	content := struct {
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
		RestoredFrom        string   `json:"restored_from,omitempty"`
	}{p.FormatVersion, p.Stack, p.Source, p.Cluster, p.Mode, p.Options, desiredObjects(p), p.Base, p.InventoryGeneration, p.Changes, p.Destructive, ""}
	if restore {
		content.RestoredFrom = p.RestoredFrom
	}
	b, err := json.Marshal(content)
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

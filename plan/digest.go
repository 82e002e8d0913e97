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
// but its ID, creation time, Approximate flag (Mode decides) and what is
// decided again when it is applied or only shown (Held, Rollback,
// BaseCommit, Stats), as an HMAC-SHA256 under the stack's hash key
// ("hmac-sha256:…"). It is keyed because it covers the desired manifests,
// Secret values included: an unkeyed digest, shown by the API, plan -o json
// and the audit log, would confirm a guessed value offline.
func Digest(p *Plan, key object.HashKey) (string, error) {
	return keyedDigest(p, key, true)
}

// keyedDigest is Digest, over RestoredFrom too when restore is set: plans
// recorded before RestoredFrom was covered have digests without it.
func keyedDigest(p *Plan, key object.HashKey, restore bool) (string, error) {
	b, err := digestContent(p, restore)
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
// verifies plans they recorded, and is never computed for a new plan. Those
// versions did not cover RestoredFrom either.
func legacyDigest(p *Plan) (string, error) {
	b, err := digestContent(p, false)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return legacyDigestPrefix + hex.EncodeToString(sum[:]), nil
}

// digestContent is what a plan's digest covers, encoded; RestoredFrom only
// with restore. RestoredFrom is left out when empty, so that the digests of
// plans that are not restores are what they were before it was covered.
func digestContent(p *Plan, restore bool) ([]byte, error) {
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

// verifyDigest checks that p matches its digest under key. The digests of
// plans an older gantry computed are accepted only with legacy (plans
// recorded in the database, which the store keeps immutable): the unkeyed
// one, which anyone can compute, so a planfile carrying one could have been
// edited by anyone; and, for a restore, the keyed one without RestoredFrom,
// so a planfile cannot be made a restore (or stop being one) by an edit.
func verifyDigest(p *Plan, key object.HashKey, legacy bool) error {
	if strings.HasPrefix(p.Digest, legacyDigestPrefix) && !legacy {
		return fmt.Errorf("plan %s was computed by an older gantry: its digest is not keyed, so nothing shows the file was not edited since; compute the plan again", p.ID)
	}
	forms := []func(*Plan) (string, error){func(p *Plan) (string, error) { return keyedDigest(p, key, true) }}
	switch {
	case strings.HasPrefix(p.Digest, legacyDigestPrefix):
		forms = []func(*Plan) (string, error){legacyDigest}
	case legacy && p.RestoredFrom != "":
		forms = append(forms, func(p *Plan) (string, error) { return keyedDigest(p, key, false) })
	}
	for _, compute := range forms {
		digest, err := compute(p)
		if err != nil {
			return err
		}
		if digest == p.Digest {
			return nil
		}
	}
	return fmt.Errorf("plan %s of stack %s does not match its digest %s: it was edited or damaged, or computed against another database (the digest is keyed with the stack's key, kept there and in GANTRY_SECRET_KEY); compute the plan again",
		p.ID, p.Stack, p.Digest)
}

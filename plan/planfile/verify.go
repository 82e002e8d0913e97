package planfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan"
)

// legacyDigestPrefix starts the unkeyed digests of plans computed by gantry
// before digests were keyed.
const legacyDigestPrefix = "sha256:"

// legacyDigest is the unkeyed SHA-256 older gantry versions computed; it
// verifies plans they recorded, and is never computed for a new plan. Those
// versions did not cover RestoredFrom either.
func legacyDigest(p *plan.Plan) (string, error) {
	b, err := plan.DigestContent(p, false)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return legacyDigestPrefix + hex.EncodeToString(sum[:]), nil
}

// verifyDigest checks that p matches its digest under key. The digests of
// plans an older gantry computed are accepted only with legacy (plans
// recorded in the database, which the store keeps immutable): the unkeyed
// one, which anyone can compute, so a planfile carrying one could have been
// edited by anyone; and, for a restore, the keyed one without RestoredFrom,
// so a planfile cannot be made a restore (or stop being one) by an edit.
func verifyDigest(p *plan.Plan, key object.HashKey, legacy bool) error {
	if strings.HasPrefix(p.Digest, legacyDigestPrefix) && !legacy {
		return fmt.Errorf("plan %s was computed by an older gantry: its digest is not keyed, so nothing shows the file was not edited since; compute the plan again", p.ID)
	}
	forms := []func(*plan.Plan) (string, error){func(p *plan.Plan) (string, error) { return plan.KeyedDigest(p, key, true) }}
	switch {
	case strings.HasPrefix(p.Digest, legacyDigestPrefix):
		forms = []func(*plan.Plan) (string, error){legacyDigest}
	case legacy && p.RestoredFrom != "":
		forms = append(forms, func(p *plan.Plan) (string, error) { return plan.KeyedDigest(p, key, false) })
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

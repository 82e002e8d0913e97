package plan

import (
	"encoding/hex"

	"github.com/gantryops/gantry/object"
	"github.com/gantryops/gantry/plan/ssa"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func hashString(h object.Hash) string { return hex.EncodeToString(h[:]) }

// MemoEntryFor returns the memo entry saying that applying desired onto live
// changes nothing: true of the object a server-side apply of desired just
// returned (applying the same configuration again is a no-op).
func MemoEntryFor(salt []byte, desired, live *unstructured.Unstructured, force bool) (MemoEntry, error) {
	dh, err := ssa.DesiredHash(salt, desired, force)
	if err != nil {
		return MemoEntry{}, err
	}
	fp, err := ssa.Fingerprint(salt, live)
	if err != nil {
		return MemoEntry{}, err
	}
	return MemoEntry{Desired: dh, Live: fp}, nil
}

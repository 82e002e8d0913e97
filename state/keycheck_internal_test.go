package state

import (
	"bytes"
	"testing"
)

// TestDecideKey: what a gantry with a key (or none) makes of the key the
// database records, a row per case.
func TestDecideKey(t *testing.T) {
	t.Parallel()
	a, b := bytes.Repeat([]byte{0xa}, 32), bytes.Repeat([]byte{0xb}, 32) // two keys' check values
	cases := []struct {
		name  string
		rec   keyRecord
		given []byte
		want  keyVerdict
	}{
		{"never keyed, no key", keyRecord{}, nil, keyOK},
		{"never keyed, a key: first use", keyRecord{}, a, keyRecordIt},
		{"keyed, no key", keyRecord{exists: true, check: a}, nil, keyMissing},
		{"keyed, the same key", keyRecord{exists: true, check: a}, a, keyOK},
		{"keyed, another key", keyRecord{exists: true, check: a}, b, keyDiffers},
		{"keyed by an older gantry, no key", keyRecord{exists: true}, nil, keyMissing},
		{"keyed by an older gantry, a key: verify it", keyRecord{exists: true}, a, keyVerifyIt},
		{"a check value cut short", keyRecord{exists: true, check: a[:16]}, a, keyDiffers},
	}
	for _, tc := range cases {
		if got := decideKey(tc.rec, tc.given); got != tc.want {
			t.Errorf("%s: decideKey = %d, want %d", tc.name, got, tc.want)
		}
	}
}

package plan

import (
	"bytes"
	"testing"
)

// FuzzPlanfile feeds arbitrary bytes to the planfile reader: it never
// panics, refuses what is not a planfile of a known format version or does
// not match its digest, and what it accepts writes back to a planfile that
// reads the same.
func FuzzPlanfile(f *testing.F) {
	p := examplePlan(f)
	var good bytes.Buffer
	if err := WritePlanfile(&good, p); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(bytes.Replace(good.Bytes(), []byte(`"format_version": 1`), []byte(`"format_version": 99`), 1))
	f.Add(bytes.Replace(good.Bytes(), []byte(`"stack": "shop"`), []byte(`"stack": "shoq"`), 1))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format_version": 1, "changes": [{"action": "delete"}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPlanfile(bytes.NewReader(data), testKeyOf)
		if err != nil {
			return
		}
		var again bytes.Buffer
		if err := WritePlanfile(&again, p); err != nil {
			t.Fatalf("an accepted plan does not write back: %v", err)
		}
		q, err := ReadPlanfile(&again, testKeyOf)
		if err != nil || q.Digest != p.Digest {
			t.Fatalf("an accepted plan does not read back the same: %v", err)
		}
	})
}

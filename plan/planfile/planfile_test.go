package planfile

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gantryops/gantry/plan/plantest"
)

func TestPlanfileRefusesWhatItCannotTrust(t *testing.T) {
	t.Parallel()
	var file bytes.Buffer
	if err := Write(&file, plantest.Example(t)); err != nil {
		t.Fatal(err)
	}
	good := file.String()
	if _, err := Read(strings.NewReader(good), plantest.KeyOf); err != nil {
		t.Fatalf("reading back: %v", err)
	}
	for name, tc := range map[string]struct{ content, want string }{
		"not JSON":        {"hello", "not a gantry plan"},
		"no version":      {`{"id": "x"}`, "no format_version"},
		"future version":  {strings.Replace(good, `"format_version": 1`, `"format_version": 2`, 1), "format version 2 is not supported by this gantry (it reads version 1)"},
		"edited content":  {strings.Replace(good, `"k": "v"`, `"k": "w"`, 1), "does not match its digest"},
		"edited decision": {strings.Replace(good, `"action": "delete"`, `"action": "noop"`, 1), "does not match its digest"},
	} {
		if tc.content == good {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if _, err := Read(strings.NewReader(tc.content), plantest.KeyOf); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

// FuzzPlanfile feeds arbitrary bytes to the planfile reader: it never
// panics, refuses what is not a planfile of a known format version or does
// not match its digest, and what it accepts writes back to a planfile that
// reads the same.
func FuzzPlanfile(f *testing.F) {
	p := plantest.Example(f)
	var good bytes.Buffer
	if err := Write(&good, p); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(bytes.Replace(good.Bytes(), []byte(`"format_version": 1`), []byte(`"format_version": 99`), 1))
	f.Add(bytes.Replace(good.Bytes(), []byte(`"stack": "shop"`), []byte(`"stack": "shoq"`), 1))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format_version": 1, "changes": [{"action": "delete"}]}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"format_version": 1, "desired": [null]}`))
	f.Add([]byte(`{"format_version": 1, "desired": [{"apiVersion": 1, "kind": [], "metadata": "x"}], "changes": [{"before": {"metadata": {"labels": {"a": 1}}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Read(bytes.NewReader(data), plantest.KeyOf)
		if err != nil {
			return
		}
		var again bytes.Buffer
		if err := Write(&again, p); err != nil {
			t.Fatalf("an accepted plan does not write back: %v", err)
		}
		q, err := Read(&again, plantest.KeyOf)
		if err != nil || q.Digest != p.Digest {
			t.Fatalf("an accepted plan does not read back the same: %v", err)
		}
	})
}

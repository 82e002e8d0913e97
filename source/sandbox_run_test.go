package source

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

// TestReadResponse reads answers of the sandbox, which is not trusted to
// keep to the protocol: what does not is refused as garbage before
// anything it claims is allocated.
func TestReadResponse(t *testing.T) {
	cm := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`
	for _, tc := range []struct {
		name, out string
		objects   int
		want      string // "" for accepted; "garbage" for errGarbage
	}{
		{"one object", `{"Objects":1}` + "\n62\n" + cm, 1, ""},
		{"the render's error", `{"Error":"app/x.yaml: refused"}` + "\n", 0, "app/x.yaml: refused"},
		{"an object claiming 10 GB", `{"Objects":1}` + "\n10737418240\n" + cm, 0, "garbage"},
		{"more objects than the bound", `{"Objects":3}` + "\n", 0, "more than 2 objects"},
		{"cut short", `{"Objects":2}` + "\n62\n" + cm, 0, "garbage"},
		{"more after the last object", `{"Objects":1}` + "\n62\n" + cm + "x", 0, "garbage"},
		{"no header", `{"Objects":1`, 0, "garbage"},
		{"an invalid object", `{"Objects":1}` + "\n2\n{}", 0, "object 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, objs, err := readResponse(bufio.NewReader(strings.NewReader(tc.out)), "app", 2, 1<<20)
			switch {
			case tc.want == "":
				if err != nil || len(objs) != tc.objects {
					t.Fatalf("%d objects, %v", len(objs), err)
				}
			case tc.want == "garbage":
				if !errors.Is(err, errGarbage) {
					t.Fatalf("err = %v, want garbage", err)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

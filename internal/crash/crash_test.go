package crash

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestCatch(t *testing.T) {
	t.Parallel()
	plain := errors.New("plain")
	cases := []struct {
		name      string
		f         func() error
		wantErr   error // errors.Is target; nil: no error
		wantPanic string
	}{
		{name: "returns nil", f: func() error { return nil }},
		{name: "returns an error", f: func() error { return plain }, wantErr: plain},
		{name: "panics with a string", f: func() error { panic("boom") }, wantPanic: "boom"},
		{name: "panics with an error", f: func() error { panic(plain) }, wantErr: plain, wantPanic: "plain"},
		{name: "type assertion", f: func() error {
			var v any = "v1"
			_ = v.(map[string]any)
			return nil
		}, wantPanic: "interface conversion"},
		{name: "index out of range", f: func() error {
			var s []int
			_ = s[len(s)]
			return nil
		}, wantPanic: "index out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Catch(tc.f)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want it to wrap %v", err, tc.wantErr)
			}
			var ce *Error
			panicked := errors.As(err, &ce)
			if panicked != (tc.wantPanic != "") {
				t.Fatalf("err = %v: panicked %t, want %t", err, panicked, tc.wantPanic != "")
			}
			if !panicked {
				if tc.wantErr == nil && err != nil {
					t.Errorf("err = %v, want nil", err)
				}
				return
			}
			if !strings.Contains(err.Error(), tc.wantPanic) || !strings.Contains(err.Error(), "gantry panicked") {
				t.Errorf("message %q does not say it panicked with %q", err.Error(), tc.wantPanic)
			}
			if !strings.Contains(string(ce.Stack), "crash_test.go") {
				t.Errorf("the stack does not show where it panicked:\n%s", ce.Stack)
			}
		})
	}
}

// TestCatchRuntimeError: a runtime error (an index out of range) is
// reachable with errors.As, as callers that log it may want.
func TestCatchRuntimeError(t *testing.T) {
	t.Parallel()
	var s []int
	i := len(t.Name()) // known only at run time
	err := Catch(func() error {
		return fmt.Errorf("unreachable: %d", s[i])
	})
	var re runtime.Error
	if !errors.As(err, &re) {
		t.Errorf("err = %v, want a runtime.Error inside", err)
	}
}

package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gantryops/gantry/runner"
)

// TestServerCapsHeaders: headers over MaxHeaderBytes get 431.
func TestServerCapsHeaders(t *testing.T) {
	t.Parallel()
	opts := fastOptions()
	opts.MaxHeaderBytes = 8 << 10
	addr, _, _ := serve(t, opts)
	req, err := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Big", strings.Repeat("x", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB of headers: %s, want 431", resp.Status)
	}
}

func TestPublicReason(t *testing.T) {
	t.Parallel()
	detail := errors.New("failed to connect to `user=u database=d`: /run/pg/.s.PGSQL.5432: FATAL")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"database", fmt.Errorf("%w: database (host=/run/pg user=u dbname=d) does not answer: %w", runner.ErrDatabaseDown, detail),
			"the database does not answer (the log of gantry run has the detail)"},
		{"not reconciled", &runner.NotReconciledError{Stack: "shop"}, "stack shop has not been reconciled yet"},
		{"anything else", detail, "not ready (the log of gantry run has the detail)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := publicReason(tc.err); got != tc.want {
				t.Errorf("publicReason = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRefuseBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		code   int
		result string
	}{
		{"busy", errBusy, http.StatusServiceUnavailable, "busy"},
		{"too large", &http.MaxBytesError{Limit: 10}, http.StatusRequestEntityTooLarge, "too-large"},
		{"timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, http.StatusRequestTimeout, "timeout"},
		{"broken", io.ErrUnexpectedEOF, http.StatusBadRequest, "bad-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := refuseBody(tc.err, 10)
			if got.Code != tc.code || got.Result != tc.result {
				t.Errorf("refuseBody = %d %s, want %d %s", got.Code, got.Result, tc.code, tc.result)
			}
		})
	}
}

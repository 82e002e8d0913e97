package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestRecoveringHandler: a handler that panics answers 500 with a generic
// error (the panic and its stack go to the log only); handlers that do not
// panic are untouched; net/http's ErrAbortHandler still aborts.
func TestRecoveringHandler(t *testing.T) {
	t.Parallel()
	var logged bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logged})
	mux := http.NewServeMux()
	mux.HandleFunc("/panics", func(http.ResponseWriter, *http.Request) { panic("secret-looking detail") })
	mux.HandleFunc("/fine", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusTeapot, map[string]string{"ok": "yes"})
	})
	mux.HandleFunc("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	h := recovering(log, mux)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/panics", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "internal error") || strings.Contains(rec.Body.String(), "secret-looking") {
		t.Errorf("panicking handler: %d %s, want 500 with a generic error", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logged.String(), "secret-looking detail") || !strings.Contains(logged.String(), "stack_trace") || !strings.Contains(logged.String(), "path=/panics") {
		t.Errorf("the panic is not logged with its stack and path:\n%s", logged.String())
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/fine", nil))
	if rec.Code != http.StatusTeapot || !strings.Contains(rec.Body.String(), `"ok": "yes"`) {
		t.Errorf("a handler that does not panic: %d %s", rec.Code, rec.Body.String())
	}

	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("ErrAbortHandler: recovered %v, want it re-panicked", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
}

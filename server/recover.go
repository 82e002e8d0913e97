package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gantryops/gantry/internal/crash"
	"github.com/hashicorp/go-hclog"
)

// recovering serves next, answering 500 with a generic error, and logging
// the panic with its stack trace, when a handler panics: net/http would only
// drop the connection and log to stderr.
func recovering(log hclog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		err := crash.Catch(func() error {
			next.ServeHTTP(w, req)
			return nil
		})
		var ce *crash.Error
		if !errors.As(err, &ce) {
			return
		}
		if ce.Value == http.ErrAbortHandler {
			panic(http.ErrAbortHandler)
		}
		log.Error("HTTP handler panicked: a bug in gantry, please report it", "method", req.Method, "path", req.URL.Path, "panic", fmt.Sprint(ce.Value), "stack_trace", string(ce.Stack))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error: gantry failed to answer this request (a bug; its log has the details)"})
	})
}

// Command gantry is a Terraform-style plan/apply GitOps engine for Kubernetes.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unicode"
)

func main() {
	// The Helm SDK logs through the default slog logger, a warning per
	// invalid entry of a repository's index: a hostile index would flood
	// gantry's output. gantry logs through its own logger; the SDK's lines
	// are dropped, its errors reach gantry as errors.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var code exitCode
	switch {
	case errors.As(err, &code):
		os.Exit(int(code))
	case err != nil:
		fmt.Fprintln(os.Stderr, "Error:", terminalSafe(err.Error()))
		os.Exit(1)
	}
}

// exitCode ends the process with a code and no message: `gantry plan
// --detailed-exitcode` exits 2 when there are changes.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit code %d", int(c)) }

// terminalSafe escapes the control and bidirectional characters of s but
// line breaks and tabs, as Go quotes them (\x1b, \u202e). Errors quote
// what came from Git (file names, object names, values in the server's
// messages), and a terminal would run an escape sequence in one: clear
// the line above, rewrite the verdict, reorder text.
func terminalSafe(s string) string {
	unsafe := func(r rune) bool {
		return r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r))
	}
	if !strings.ContainsFunc(s, unsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafe(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

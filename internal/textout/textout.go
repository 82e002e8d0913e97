// Package textout writes text output without an error check per line.
package textout

import (
	"fmt"
	"io"
)

// Writer remembers the first write error, so renderers can print freely
// and check once at the end.
type Writer struct {
	W io.Writer
	// Err is the first write error; nothing is written after it.
	Err error
}

// Printf writes as fmt.Fprintf, unless a write failed before.
func (e *Writer) Printf(format string, args ...any) {
	if e.Err == nil {
		_, e.Err = fmt.Fprintf(e.W, format, args...)
	}
}

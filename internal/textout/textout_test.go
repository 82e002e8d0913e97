package textout

import (
	"errors"
	"strings"
	"testing"
)

// failAfter fails every write after the first n bytes.
type failAfter struct {
	n   int
	got strings.Builder
}

var errFull = errors.New("disk full")

func (f *failAfter) Write(b []byte) (int, error) {
	if f.got.Len()+len(b) > f.n {
		return 0, errFull
	}
	return f.got.Write(b)
}

// TestWriterKeepsTheFirstError: after a write fails, nothing more is
// written and the error is the first one.
func TestWriterKeepsTheFirstError(t *testing.T) {
	f := &failAfter{n: 6}
	w := &Writer{W: f}
	w.Printf("%s\n", "first")
	w.Printf("%s\n", "second")
	w.Printf("x")
	if f.got.String() != "first\n" || !errors.Is(w.Err, errFull) {
		t.Fatalf("wrote %q, error %v; want only the first line and the disk-full error", f.got.String(), w.Err)
	}
}

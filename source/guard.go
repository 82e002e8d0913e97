package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// guard keeps a render's account: the bytes it read, and the first refusal
// of its reads. kustomize asks Exists and IsDir, which cannot return an
// error, and it wraps or replaces the errors of reads it retries another
// way; the render reports the refusal kept here instead of kustomize's
// "does not exist". It also carries the render's context: reads stop when
// it ends.
type guard struct {
	ctx     context.Context // nil: reads never stop
	timeout time.Duration   // the render's Timeout, to name when ctx's deadline passes

	mu             sync.Mutex
	err            error
	read           int64 // bytes read: files, Git trees, symlink targets, each read counted
	kustomizations int   // kustomization files read, each read counted
}

// newGuard returns the guard of a render that stops when ctx ends.
func newGuard(ctx context.Context, timeout time.Duration) *guard {
	return &guard{ctx: ctx, timeout: timeout}
}

// refuse keeps err when it is the first refusal, and returns it.
func (g *guard) refuse(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
	}
	return err
}

// refusal returns the first refusal, or nil.
func (g *guard) refusal() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// spend adds n bytes read for what (a file, a tree, a link) to the render's
// total, and refuses what brings it past limit (0: no limit).
func (g *guard) spend(what string, n, limit int64) error {
	g.mu.Lock()
	g.read += n
	total := g.read
	g.mu.Unlock()
	if limit > 0 && total > limit {
		return g.refuse(fmt.Errorf("%s: reading it brings this render to %d bytes, over the limit of %d bytes a render may read (every read counts, the same file read twice counts twice): raise source.maxRenderBytes in gantry.yaml or --max-render-bytes, or render a smaller path",
			what, total, limit))
	}
	return nil
}

// kustomization counts a read of the kustomization file name against
// maxKustomizationReads.
func (g *guard) kustomization(name string) error {
	g.mu.Lock()
	g.kustomizations++
	over := g.kustomizations > maxKustomizationReads
	g.mu.Unlock()
	if over {
		return g.refuse(fmt.Errorf("%s: this render read kustomization files more than %d times: a kustomization reached through many paths (links to a directory holding them, one directory under many names) is built again at each path: name each base once", name, maxKustomizationReads))
	}
	return nil
}

// alive returns the refusal of a render whose context ended, else nil.
func (g *guard) alive() error {
	if g.ctx == nil {
		return nil
	}
	err := g.ctx.Err()
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) && g.timeout > 0 {
		err = fmt.Errorf("%w: the render took longer than %s", errRenderStopped, g.timeout)
	}
	return g.refuse(err)
}

// errRenderStopped marks the error of a render that ran out of a bound of
// time or of its sandbox (memory, output): no answer to trust came back.
var errRenderStopped = errors.New("render stopped")

// bytesRead returns the bytes read so far.
func (g *guard) bytesRead() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.read
}

// maxErrorBytes bounds the text of an error a render returns: errors go to
// logs, to the record and to pull-request comments, and a parser's error
// can quote megabytes of a file (a long key, twice).
const maxErrorBytes = 4096

// cutError returns err with its text cut to maxErrorBytes, saying how much
// was cut; errors.Is and As still see what it wraps.
func cutError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if len(msg) <= maxErrorBytes {
		return err
	}
	return &rewordedError{msg: cutText(msg, maxErrorBytes), err: err}
}

// cutText cuts s to at most n bytes, on a rune boundary, with a note.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	keep := n - 64 // room for the note
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + fmt.Sprintf(" … (%d more bytes of this error cut)", len(s)-keep)
}

// rewordedError is an error whose text was rewritten (cut, or its paths
// made the repository's); errors.Is and As see the error it rewrites.
type rewordedError struct {
	msg string
	err error
}

func (e *rewordedError) Error() string { return e.msg }
func (e *rewordedError) Unwrap() error { return e.err }

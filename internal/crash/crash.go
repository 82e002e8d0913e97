// Package crash turns a panic into an error at the places where one input's
// failure must not end the process: the goroutine that reconciles a stack,
// the HTTP handlers of gantry run, and the goroutines that plan or apply one
// object. A panic is a bug in gantry (or in a library it calls) that some
// input reached; it fails what that input was for, on record, with the
// panic's value and stack, and everything else goes on.
package crash

import (
	"fmt"
	"runtime/debug"
)

// Error is a recovered panic.
type Error struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the stack trace of the goroutine that panicked, at the panic.
	Stack []byte
}

// Error says that gantry panicked and with what; the stack is left out (log
// it from Stack).
func (e *Error) Error() string {
	return fmt.Sprintf("gantry panicked (a bug: please report it with the log's stack trace): %v", e.Value)
}

// Unwrap returns the panic's value when it is an error (a runtime error,
// say), so that errors.As reaches it.
func (e *Error) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Catch runs f and returns its error, or an *Error when f panics.
func Catch(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &Error{Value: v, Stack: debug.Stack()}
		}
	}()
	return f()
}

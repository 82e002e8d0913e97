package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gantryops/gantry/apply"
	"github.com/gantryops/gantry/state"
)

// outcomeRecord is what the recorder needs of the record.
type outcomeRecord interface {
	RecordOutcomes(ctx context.Context, applyID string, outcomes []state.Outcome) error
}

// recorder writes a running apply's outcomes to the record as they come,
// in batches, so that a process that dies mid-apply leaves what it did on
// record. When a write fails (Postgres is down), it interrupts the apply:
// gantry makes no change it cannot record.
type recorder struct {
	store   outcomeRecord
	applyID string
	stop    context.CancelCauseFunc

	mu      sync.Mutex
	pending []state.Outcome
	failed  error
	wake    chan struct{}
	done    chan struct{}
}

// errRecordLost interrupts an apply whose outcomes cannot be written.
var errRecordLost = errors.New("the record of the apply cannot be written")

// recordEvery is how often outcomes are flushed at most.
const recordEvery = 50 * time.Millisecond

func newRecorder(store outcomeRecord, applyID string, stop context.CancelCauseFunc) *recorder {
	r := &recorder{store: store, applyID: applyID, stop: stop, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go r.loop()
	return r
}

// add queues an outcome; it is called from the applier's goroutines.
func (r *recorder) add(o apply.Outcome) {
	so := stateOutcome(o)
	r.mu.Lock()
	r.pending = append(r.pending, so)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) loop() {
	defer close(r.done)
	for range r.wake {
		r.flush()
		time.Sleep(recordEvery) // batch what arrives meanwhile
	}
	r.flush()
}

func (r *recorder) flush() {
	r.mu.Lock()
	batch, failed := r.pending, r.failed
	r.pending = nil
	r.mu.Unlock()
	if len(batch) == 0 || failed != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.store.RecordOutcomes(ctx, r.applyID, batch); err != nil {
		r.mu.Lock()
		r.failed = err
		r.mu.Unlock()
		r.stop(fmt.Errorf("%w: %v", errRecordLost, err))
	}
}

// close flushes what is queued and stops; it returns the write error, if any.
func (r *recorder) close() error {
	close(r.wake)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func stateOutcome(o apply.Outcome) state.Outcome {
	so := state.Outcome{Ref: o.Ref, Action: string(o.Action), Result: string(o.Result), Ready: o.Ready, Duration: o.Duration}
	if o.Err != nil {
		so.Error = o.Err.Error()
	}
	return so
}

package runner

import (
	"context"
	"sync"
	"time"
)

// cancelBackstop is how long a cancelled host run has to end by itself
// (an unbounded one takes its final checkpoint; the engine fails one that
// takes longer than its checkpoint timeout) before its context is cancelled.
const cancelBackstop = 3 * time.Minute

// runControl ends one run attempt early. Its stop channel (the engine's
// Options.Stop) closes when the host shuts down: the engine suspends
// unbounded runs at a checkpoint. Its cancel channel (Options.Cancel) closes
// at a cancel request for a run in the host: the engine ends a bounded run
// at once and an unbounded one with a final checkpoint that publishes. A
// cancel request for a run elsewhere (a runtime's), or one that outlasts
// cancelBackstop, cancels the run's context.
type runControl struct {
	stop    chan struct{}
	cancelC chan struct{}
	cancel  context.CancelCauseFunc

	mu        sync.Mutex
	stopped   bool
	requested bool
	cause     error
	inHost    bool
	backstop  time.Duration
	timer     *time.Timer
}

func newRunControl(cancel context.CancelCauseFunc) *runControl {
	return &runControl{stop: make(chan struct{}), cancelC: make(chan struct{}), cancel: cancel, backstop: cancelBackstop}
}

// stopOn closes the stop channel when host closes (the host stops), until
// ctx ends.
func (c *runControl) stopOn(ctx context.Context, host <-chan struct{}) {
	select {
	case <-host:
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.stopped {
			c.stopped = true
			close(c.stop)
		}
	case <-ctx.Done():
	}
}

// runsInHost says the run executes in this host's engine, which takes a
// cancel request through the cancel channel. A request that came before
// (the run had not started) cancelled its context at once.
func (c *runControl) runsInHost() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inHost = true
}

// requestCancel takes a cancel request (cause: store.ErrCancelRequested);
// later ones are no-ops.
func (c *runControl) requestCancel(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.requested {
		return
	}
	c.requested = true
	c.cause = cause
	if !c.inHost {
		c.cancel(cause)
		return
	}
	close(c.cancelC)
	c.timer = time.AfterFunc(c.backstop, func() { c.cancel(cause) })
}

// disarm stops the backstop timer: the run ended.
func (c *runControl) disarm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
}

// cancelled says whether a cancel request came for the run.
func (c *runControl) cancelled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requested
}

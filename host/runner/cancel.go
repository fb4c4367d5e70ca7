package runner

import (
	"context"
	"sync"
	"time"
)

// cancelGrace is how long a cancelled run whose source may be unbounded has
// to take its final checkpoint and end before its context is cancelled: a
// bounded run (the engine ignores a stop request for those: they end by
// themselves) is cancelled when it passes.
const cancelGrace = 15 * time.Second

// finalizeTimeout bounds the resumed attempt that gives a cancelled
// unbounded run its final, publishing checkpoint.
const finalizeTimeout = 2 * time.Minute

// runControl stops one run attempt: its stop channel closes when the host
// shuts down (the engine suspends unbounded runs at a checkpoint) or when a
// cancel request arrives for a run stopped gracefully; a cancel request for
// any other run, or one that outlasts its grace, cancels the run's context.
type runControl struct {
	// stop is the engine's Options.Stop for the run.
	stop   chan struct{}
	cancel context.CancelCauseFunc

	mu        sync.Mutex
	stopped   bool
	requested bool
	cause     error
	graceful  bool
	grace     time.Duration
	timer     *time.Timer
}

func newRunControl(cancel context.CancelCauseFunc) *runControl {
	return &runControl{stop: make(chan struct{}), cancel: cancel}
}

// stopOn closes the stop channel when host closes (the host stops), until
// ctx ends.
func (c *runControl) stopOn(ctx context.Context, host <-chan struct{}) {
	select {
	case <-host:
		c.mu.Lock()
		c.closeStop()
		c.mu.Unlock()
	case <-ctx.Done():
	}
}

// closeStop closes the stop channel once; c.mu is held.
func (c *runControl) closeStop() {
	if !c.stopped {
		c.stopped = true
		close(c.stop)
	}
}

// setGraceful says how the run takes a cancel request: with a stop request
// and grace before its context is cancelled, or (graceful false) at once.
// A request that came before the run started cancelled it at once.
func (c *runControl) setGraceful(graceful bool, grace time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.graceful, c.grace = graceful, grace
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
	c.apply()
}

// apply acts on the cancel request; c.mu is held.
func (c *runControl) apply() {
	if !c.graceful {
		c.cancel(c.cause)
		return
	}
	c.closeStop()
	cause := c.cause
	c.timer = time.AfterFunc(c.grace, func() { c.cancel(cause) })
}

// disarm stops the grace timer: the run ended within it (or goes on to its
// final checkpoint under a timeout of its own).
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

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/store"
)

// RunView is a run as GET /v1/runs/{id} answers it: the stored run and,
// while the run is in progress on this host, its live state.
type RunView struct {
	*store.Run
	// Progress is the live state of a run this host is executing; absent
	// otherwise (the stored counts are then the run's last known ones).
	Progress *progress.Snapshot `json:"progress,omitempty"`
}

// Timings of the run event stream.
const (
	// defaultEventInterval is the least time between two progress events
	// (about 4 a second): updates in between are coalesced to the newest.
	defaultEventInterval = 250 * time.Millisecond
	// defaultKeepAlive is how long the stream may stay silent before a
	// comment line keeps proxies and clients from taking it for dead.
	defaultKeepAlive = 15 * time.Second
	// defaultRemotePoll is how often the store is read for a run that is
	// not in progress on this host (pending, or executed by another host).
	defaultRemotePoll = 2 * time.Second
	// trackerPoll is how often a stream that polls the store looks whether
	// the run began on this host (the tracker is memory: cheap to read).
	trackerPoll = 100 * time.Millisecond
	// endPoll is how often the store is read between a run's last live
	// snapshot and its outcome being stored.
	endPoll = 100 * time.Millisecond
	// endWait bounds how long endPoll lasts before falling back to the
	// remote poll (the run's outcome may be a retry: it is pending again).
	endWait = 5 * time.Second
	// eventWriteTimeout bounds one event's write: a client that does not
	// read is disconnected (the server's write timeout is lifted for the
	// stream, which lasts as long as the run).
	eventWriteTimeout = 30 * time.Second
)

// live returns the run's live snapshot when it is in progress on this host.
func (s *Server) live(run *store.Run) *progress.Snapshot {
	if s.Progress == nil || ended(run) {
		return nil
	}
	snap, ok := s.Progress.Get(run.ID)
	if !ok {
		return nil
	}
	return &snap
}

// ended reports whether a run has its outcome (success, failed, cancelled).
func ended(run *store.Run) bool {
	return run.Status != store.StatusPending && run.Status != store.StatusInProgress
}

// sse writes server-sent events, each flushed at once.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// last is when something was last written (for the keep-alive).
	last time.Time
}

// event writes one event whose data is v as one line of JSON.
func (e *sse) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", name, err)
	}
	return e.write(fmt.Sprintf("event: %s\ndata: %s\n\n", name, b))
}

// comment writes a comment line, which clients ignore.
func (e *sse) comment(text string) error { return e.write(": " + text + "\n\n") }

func (e *sse) write(s string) error {
	_ = e.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	if _, err := e.w.Write([]byte(s)); err != nil {
		return err
	}
	e.last = time.Now()
	return e.rc.Flush()
}

// runEvents answers GET /v1/runs/{id}/events: a text/event-stream of the
// run's live state. While the run is in progress on this host: "progress"
// events with a [progress.Snapshot] (at most about 4 a second; updates in
// between are coalesced to the newest). While it is pending or executed by
// another host: "run" events with the stored run every 2 s. When it has
// ended (at once, for a run that already had): one "end" event with the
// stored run, and the stream closes. A comment line every 15 s of silence
// keeps the connection open through proxies.
func (s *Server) runEvents(w http.ResponseWriter, r *http.Request) {
	id, ok := runID(w, r)
	if !ok {
		return
	}
	run, err := s.Store.GetRun(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	e := &sse{w: w, rc: http.NewResponseController(w)}
	// The stream lasts as long as the run: the server's write timeout,
	// meant for ordinary answers, is replaced by one per event.
	_ = e.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	if err := s.streamRun(r.Context(), e, run); err != nil && r.Context().Err() == nil {
		s.Log.Debug("run event stream ended", "run", id, "error", err)
	}
}

// streamRun writes the events of run until it ends, ctx ends or a write
// fails.
func (s *Server) streamRun(ctx context.Context, e *sse, run *store.Run) error {
	keepAlive := s.EventKeepAlive
	if keepAlive <= 0 {
		keepAlive = defaultKeepAlive
	}
	if err := e.comment("run " + fmt.Sprint(run.ID)); err != nil {
		return err
	}
	for {
		if ended(run) {
			return e.event("end", redactRun(run))
		}
		if s.Progress != nil {
			done, err := s.streamLive(ctx, e, run.ID, keepAlive)
			if err != nil {
				return err
			}
			if done {
				// The last snapshot came: the outcome is stored right
				// after it (or the run is pending for a retry).
				if run, err = s.waitStored(ctx, run.ID); err != nil {
					return err
				}
				if ended(run) {
					continue
				}
			}
		}
		var err error
		if run, err = s.pollStored(ctx, e, run, keepAlive); err != nil {
			return err
		}
	}
}

// streamLive forwards the run's snapshots while it is in progress on this
// host. It returns done=true after the run's last snapshot, and done=false
// at once (having written nothing) when the run is not in progress here.
func (s *Server) streamLive(ctx context.Context, e *sse, runID int64, keepAlive time.Duration) (done bool, err error) {
	interval := s.EventInterval
	if interval <= 0 {
		interval = defaultEventInterval
	}
	subCtx, unsubscribe := context.WithCancel(ctx)
	defer unsubscribe()
	ch, ok := s.Progress.Subscribe(subCtx, runID)
	if !ok {
		return false, nil
	}
	var (
		pending  *progress.Snapshot // newest snapshot not sent yet
		lastSent time.Time
		hold     = time.NewTimer(time.Hour)
		alive    = time.NewTicker(max(keepAlive/4, time.Millisecond)) // silence stays within 1.25 keepAlive
	)
	hold.Stop()
	defer hold.Stop()
	defer alive.Stop()
	send := func() error {
		if pending == nil {
			return nil
		}
		err := e.event("progress", pending)
		pending, lastSent = nil, time.Now()
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case snap, open := <-ch:
			if !open {
				if ctx.Err() != nil {
					return false, ctx.Err()
				}
				// Closed after the last snapshot (Done): send what is
				// held back, which is that one.
				return true, send()
			}
			pending = &snap
			if snap.Done {
				continue // the close follows: send then
			}
			if wait := interval - time.Since(lastSent); wait > 0 {
				hold.Reset(wait)
				continue
			}
			if err := send(); err != nil {
				return false, err
			}
		case <-hold.C:
			if err := send(); err != nil {
				return false, err
			}
		case <-alive.C:
			if time.Since(e.last) >= keepAlive {
				if err := e.comment("keep-alive"); err != nil {
					return false, err
				}
			}
		}
	}
}

// waitStored reads the run until its outcome is stored, or for endWait at
// most (after a failed attempt with a retry to follow, it stays pending).
func (s *Server) waitStored(ctx context.Context, runID int64) (*store.Run, error) {
	deadline := time.Now().Add(endWait)
	for {
		run, err := s.Store.GetRun(ctx, runID)
		if err != nil || ended(run) || time.Now().After(deadline) {
			return run, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(endPoll):
		}
	}
}

// pollStored sends a "run" event with the stored run every remote poll
// interval (the run is pending, or in progress on another host) until it
// ends or starts here (the tracker is looked at every trackerPoll); it
// returns the run as last read.
func (s *Server) pollStored(ctx context.Context, e *sse, run *store.Run, keepAlive time.Duration) (*store.Run, error) {
	poll := s.EventPoll
	if poll <= 0 {
		poll = defaultRemotePoll
	}
	poll = min(poll, keepAlive)
	t := time.NewTicker(min(trackerPoll, poll))
	defer t.Stop()
	if err := e.event("run", redactRun(run)); err != nil {
		return nil, err
	}
	read := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		if s.Progress != nil {
			if _, here := s.Progress.Get(run.ID); here {
				return run, nil // a host's attempt began here: stream it live
			}
		}
		if time.Since(read) < poll {
			continue
		}
		cur, err := s.Store.GetRun(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		run, read = cur, time.Now()
		if ended(run) {
			return run, nil
		}
		if err := e.event("run", redactRun(run)); err != nil {
			return nil, err
		}
	}
}

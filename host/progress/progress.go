// Package progress holds the live state of the runs a host is executing:
// counts, rates, checkpoints, restarts and the split assignment per reader.
// The runner writes it from the engine's events; the API reads it for
// GET /v1/runs/{id} and its event stream, and the metrics collector reads
// it at every scrape. A snapshot is a copy: readers never see a half-made
// update.
package progress

import (
	"context"
	"sync"
	"time"
)

// Split states in a [Snapshot].
const (
	SplitPending  = "pending"  // known to the enumerator, not yet assigned
	SplitAssigned = "assigned" // being read by a reader
	SplitFinished = "finished" // read to its end
)

// Split is one split of a run's source.
type Split struct {
	ID string `json:"id"`
	// Reader is the index of the reader it is assigned to; -1 while
	// pending.
	Reader int    `json:"reader"`
	State  string `json:"state"`
	// Lag is how many records the source still has behind this split's
	// position, when the source reports it (-1: unknown).
	Lag int64 `json:"lag"`
}

// Snapshot is a run's live state.
type Snapshot struct {
	RunID        int64     `json:"run_id"`
	Flow         string    `json:"flow"`
	StartedAt    time.Time `json:"started_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	RowsRead     int64     `json:"rows_read"`
	RowsWritten  int64     `json:"rows_written"`
	RowsRejected int64     `json:"rows_rejected"`
	BytesRead    int64     `json:"bytes_read"`
	BytesWritten int64     `json:"bytes_written"`
	// BytesTotal is the source's size when it knows it (files); 0: unknown.
	BytesTotal int64 `json:"bytes_total"`
	// RowsPerSecond is the read rate over the last few seconds.
	RowsPerSecond    float64    `json:"rows_per_second"`
	Checkpoints      int64      `json:"checkpoints"`
	LastCheckpointAt *time.Time `json:"last_checkpoint_at,omitempty"`
	Restarts         int        `json:"restarts"`
	Readers          int        `json:"readers"`
	Splits           []Split    `json:"splits"`
	// Done is set on the last snapshot of a run, the one its subscribers
	// get before their channel closes.
	Done bool `json:"done,omitempty"`
}

func (s *Snapshot) clone() Snapshot {
	c := *s
	c.Splits = append([]Split(nil), s.Splits...)
	if s.LastCheckpointAt != nil {
		t := *s.LastCheckpointAt
		c.LastCheckpointAt = &t
	}
	return c
}

// Tracker holds the snapshots of the runs in progress on this host. The
// zero value is not usable; call [New].
type Tracker struct {
	mu   sync.Mutex
	runs map[int64]*entry
}

type entry struct {
	snap Snapshot
	subs map[chan Snapshot]struct{}
}

// New returns an empty tracker.
func New() *Tracker { return &Tracker{runs: map[int64]*entry{}} }

// Update applies fn to the run's snapshot (creating it on first use) and
// wakes its subscribers. fn runs under the tracker's lock: keep it short.
func (t *Tracker) Update(runID int64, fn func(*Snapshot)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.runs[runID]
	if e == nil {
		e = &entry{snap: Snapshot{RunID: runID, StartedAt: time.Now()}, subs: map[chan Snapshot]struct{}{}}
		t.runs[runID] = e
	}
	fn(&e.snap)
	e.snap.UpdatedAt = time.Now()
	snap := e.snap.clone()
	for ch := range e.subs {
		offer(ch, snap)
	}
}

// offer hands snap to a subscriber without blocking: a slow reader skips
// to the newest snapshot (its buffer holds one).
func offer(ch chan Snapshot, snap Snapshot) {
	select {
	case ch <- snap:
	default:
		select {
		case <-ch:
		default:
		}
		select {
		case ch <- snap:
		default:
		}
	}
}

// Get returns the run's snapshot, if the run is in progress here.
func (t *Tracker) Get(runID int64) (Snapshot, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.runs[runID]
	if e == nil {
		return Snapshot{}, false
	}
	return e.snap.clone(), true
}

// List returns the snapshots of all runs in progress here.
func (t *Tracker) List() []Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Snapshot, 0, len(t.runs))
	for _, e := range t.runs {
		out = append(out, e.snap.clone())
	}
	return out
}

// Finish ends the run's tracking: subscribers get a last snapshot with
// Done set, then their channels close.
func (t *Tracker) Finish(runID int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.runs[runID]
	if e == nil {
		return
	}
	delete(t.runs, runID)
	e.snap.Done = true
	e.snap.UpdatedAt = time.Now()
	snap := e.snap.clone()
	for ch := range e.subs {
		offer(ch, snap)
		close(ch)
	}
}

// Subscribe returns a channel of the run's snapshots: the current one at
// once, then one after each update (coalesced for slow readers). It closes
// after the run's last snapshot (Done) or when ctx ends. ok is false when
// the run is not in progress here.
func (t *Tracker) Subscribe(ctx context.Context, runID int64) (ch <-chan Snapshot, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.runs[runID]
	if e == nil {
		return nil, false
	}
	c := make(chan Snapshot, 1)
	c <- e.snap.clone()
	e.subs[c] = struct{}{}
	go func() {
		<-ctx.Done()
		t.mu.Lock()
		defer t.mu.Unlock()
		if cur := t.runs[runID]; cur == e {
			if _, live := e.subs[c]; live {
				delete(e.subs, c)
				close(c)
			}
		}
	}()
	return c, true
}

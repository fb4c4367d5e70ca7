package runner

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/store"
)

// rateWindow is how far back the rows/s rate of a run looks.
const rateWindow = 5 * time.Second

// persistEvery is how often the live counts of a run go to its row (and at
// each checkpoint), for the run list and the other hosts.
const persistEvery = 3 * time.Second

// liveRun feeds the progress tracker from one attempt's engine events and
// writes its live counts to the run's row while it goes on. The engine's
// progress events count the current engine attempt only (they start at 0
// after a restart from a checkpoint); liveRun adds them to the counts
// committed when that attempt started, so the run's counts never go back
// below what its checkpoints committed.
type liveRun struct {
	tracker *progress.Tracker
	st      *store.Store
	log     hclog.Logger
	runID   int64

	mu sync.Mutex
	// base is what was committed when the current engine attempt started;
	// committed what the last checkpoint committed.
	base, committed engine.Stats
	lag             map[string]int64
	samples         []rateSample

	persist chan struct{}
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

type rateSample struct {
	at   time.Time
	rows int64
}

// startLive starts tracking a run attempt. base is what the run's latest
// checkpoint committed (the engine resumes from it). A nil tracker tracks in
// a tracker of its own: the run's row still gets its live counts.
func (r *Runner) startLive(ctx context.Context, runID int64, flowName string, readers int, base engine.Stats, log hclog.Logger) *liveRun {
	t := r.opts.Progress
	if t == nil {
		t = progress.New()
	}
	l := &liveRun{tracker: t, st: r.opts.Store, log: log, runID: runID, base: base, committed: base,
		lag: map[string]int64{}, persist: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	t.Update(runID, func(s *progress.Snapshot) {
		s.Flow, s.Readers = flowName, readers
		s.RowsRead, s.RowsWritten, s.RowsRejected, s.BytesWritten = base.RowsRead, base.RowsWritten, base.RowsRejected, base.BytesWritten
		s.Checkpoints = base.Checkpoints
	})
	go l.persistLoop(context.WithoutCancel(ctx))
	return l
}

// event applies an engine event. It is called on the engine's goroutines
// and must not block: the store write happens in persistLoop.
func (l *liveRun) event(ev engine.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	switch ev.Kind {
	case "progress":
		l.tracker.Update(l.runID, func(s *progress.Snapshot) {
			s.RowsRead = max(l.base.RowsRead+ev.RowsRead, l.committed.RowsRead)
			s.RowsWritten = max(l.base.RowsWritten+ev.RowsWritten, l.committed.RowsWritten)
			s.RowsRejected = max(l.base.RowsRejected+ev.RowsRejected, l.committed.RowsRejected)
			if ev.BytesRead > 0 {
				s.BytesRead = ev.BytesRead
			}
			if ev.BytesTotal > 0 {
				s.BytesTotal = ev.BytesTotal
			}
			s.RowsPerSecond = l.rate(now, s.RowsRead)
		})
	case "checkpoint":
		if ev.Checkpoint == nil {
			return
		}
		cp := ev.Checkpoint
		l.committed = cp.Stats
		at := cp.Time
		if at.IsZero() {
			at = now
		}
		l.tracker.Update(l.runID, func(s *progress.Snapshot) {
			s.RowsRead = max(s.RowsRead, cp.Stats.RowsRead)
			s.RowsWritten = max(s.RowsWritten, cp.Stats.RowsWritten)
			s.RowsRejected = max(s.RowsRejected, cp.Stats.RowsRejected)
			s.BytesWritten = cp.Stats.BytesWritten
			s.Checkpoints = cp.Stats.Checkpoints
			s.LastCheckpointAt = &at
		})
		select {
		case l.persist <- struct{}{}:
		default:
		}
	case "restart":
		// The next engine attempt resumes from the last checkpoint: its
		// progress counts start from there.
		l.base = l.committed
		l.samples = nil
		l.tracker.Update(l.runID, func(s *progress.Snapshot) {
			s.Restarts++
			s.RowsRead, s.RowsWritten, s.RowsRejected = l.committed.RowsRead, l.committed.RowsWritten, l.committed.RowsRejected
			s.RowsPerSecond = 0
		})
	case "splits":
		l.tracker.Update(l.runID, func(s *progress.Snapshot) {
			s.Splits = append([]progress.Split(nil), ev.Splits...)
			l.applyLag(s)
		})
	case "lag":
		for id, n := range ev.Lag {
			l.lag[id] = n
		}
		l.tracker.Update(l.runID, l.applyLag)
	}
}

// applyLag sets the last lag reported for each split; a split the source
// reported lag for before the engine listed it is shown as assigned.
func (l *liveRun) applyLag(s *progress.Snapshot) {
	seen := make(map[string]bool, len(s.Splits))
	for i := range s.Splits {
		seen[s.Splits[i].ID] = true
		if n, ok := l.lag[s.Splits[i].ID]; ok {
			s.Splits[i].Lag = n
		}
	}
	for id, n := range l.lag {
		if !seen[id] {
			s.Splits = append(s.Splits, progress.Split{ID: id, Reader: -1, State: progress.SplitAssigned, Lag: n})
		}
	}
}

// rate returns the rows/s over the last rateWindow, given the read count
// now. Called with l.mu held.
func (l *liveRun) rate(now time.Time, rows int64) float64 {
	l.samples = append(l.samples, rateSample{at: now, rows: rows})
	// Keep one sample at or before the window's start as its baseline.
	cut := 0
	for cut+1 < len(l.samples) && now.Sub(l.samples[cut+1].at) >= rateWindow {
		cut++
	}
	l.samples = l.samples[cut:]
	first := l.samples[0]
	dt := now.Sub(first.at).Seconds()
	if dt <= 0 || rows < first.rows {
		return 0
	}
	return float64(rows-first.rows) / dt
}

// runtimeStats applies the counts a runtime (Flink) reports for its job.
func (l *liveRun) runtimeStats(st engine.Stats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.tracker.Update(l.runID, func(s *progress.Snapshot) {
		s.RowsRead, s.RowsWritten, s.RowsRejected = st.RowsRead, st.RowsWritten, st.RowsRejected
		s.RowsPerSecond = l.rate(now, st.RowsRead)
	})
}

// counts returns the run's live counts as the run row keeps them.
func (l *liveRun) counts() (store.RunCounts, bool) {
	s, ok := l.tracker.Get(l.runID)
	if !ok {
		return store.RunCounts{}, false
	}
	return store.RunCounts{Read: s.RowsRead, Written: s.RowsWritten, Rejected: s.RowsRejected, Bytes: s.BytesWritten}, true
}

// persistLoop writes the live counts to the run's row every persistEvery
// and after each checkpoint, when they changed, until stop.
func (l *liveRun) persistLoop(ctx context.Context) {
	defer close(l.stopped)
	t := time.NewTicker(persistEvery)
	defer t.Stop()
	var last store.RunCounts
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		case <-l.persist:
		}
		c, ok := l.counts()
		if !ok || c == last {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, persistEvery)
		err := l.st.UpdateRunProgress(wctx, l.runID, c)
		cancel()
		if err != nil {
			// Only the display lags behind: the run's outcome records its
			// counts anyway.
			l.log.Debug("record live counts", "error", err)
			continue
		}
		last = c
	}
}

// stop ends the store writes and waits for the last one: the run's outcome
// is recorded after it, and is not overwritten.
func (l *liveRun) stop() {
	l.once.Do(func() { close(l.done) })
	<-l.stopped
}

// finish ends the run's tracking (its subscribers get the last snapshot).
func (l *liveRun) finish() {
	l.stop()
	l.tracker.Finish(l.runID)
}

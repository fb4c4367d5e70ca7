package runner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/progress"
)

// newTestLive is a liveRun without a store (its persistLoop is not run).
func newTestLive(base engine.Stats) (*liveRun, *progress.Tracker) {
	tr := progress.New()
	l := &liveRun{tracker: tr, runID: 1, base: base, committed: base, lag: map[string]int64{}}
	tr.Update(1, func(s *progress.Snapshot) { s.Flow, s.RowsRead = "f", base.RowsRead })
	return l, tr
}

func TestLiveCountsAcrossCheckpointsAndRestarts(t *testing.T) {
	// The run resumes from a checkpoint that committed 100 rows.
	l, tr := newTestLive(engine.Stats{RowsRead: 100, RowsWritten: 90, Checkpoints: 2})
	get := func() progress.Snapshot { s, _ := tr.Get(1); return s }

	// The engine's progress counts are this attempt's.
	l.event(engine.Event{Kind: "progress", RowsRead: 20, RowsWritten: 10, RowsRejected: 1, BytesRead: 500, BytesTotal: 1000})
	if s := get(); s.RowsRead != 120 || s.RowsWritten != 100 || s.RowsRejected != 1 || s.BytesRead != 500 || s.BytesTotal != 1000 {
		t.Fatalf("after progress: %+v", s)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.event(engine.Event{Kind: "checkpoint", Checkpoint: &engine.Checkpoint{ID: 3, Time: at,
		Stats: engine.Stats{RowsRead: 130, RowsWritten: 130, RowsRejected: 1, BytesWritten: 4096, Checkpoints: 3}}})
	s := get()
	if s.Checkpoints != 3 || s.LastCheckpointAt == nil || !s.LastCheckpointAt.Equal(at) || s.RowsRead != 130 || s.BytesWritten != 4096 {
		t.Fatalf("after checkpoint: %+v", s)
	}
	// A restart goes back to the last checkpoint; the next attempt's
	// counts start from 0 again, on top of it.
	l.event(engine.Event{Kind: "progress", RowsRead: 50})
	l.event(engine.Event{Kind: "restart", Err: errors.New("plugin died")})
	if s := get(); s.Restarts != 1 || s.RowsRead != 130 {
		t.Fatalf("after restart: %+v", s)
	}
	l.event(engine.Event{Kind: "progress", RowsRead: 5})
	if s := get(); s.RowsRead != 135 {
		t.Fatalf("after the restarted attempt read 5: rows read %d, want 135", s.RowsRead)
	}
}

func TestLiveSplitsAndLag(t *testing.T) {
	l, tr := newTestLive(engine.Stats{})
	// Lag can come before the split list: the split shows as assigned.
	l.event(engine.Event{Kind: "lag", Lag: map[string]int64{"t-1": 40}})
	s, _ := tr.Get(1)
	if len(s.Splits) != 1 || s.Splits[0].ID != "t-1" || s.Splits[0].Lag != 40 || s.Splits[0].Reader != -1 {
		t.Fatalf("splits after lag only: %+v", s.Splits)
	}
	l.event(engine.Event{Kind: "splits", Splits: []progress.Split{
		{ID: "t-0", Reader: 0, State: progress.SplitAssigned, Lag: -1},
		{ID: "t-1", Reader: 1, State: progress.SplitAssigned, Lag: -1},
	}})
	l.event(engine.Event{Kind: "lag", Lag: map[string]int64{"t-0": 0}})
	s, _ = tr.Get(1)
	want := map[string]int64{"t-0": 0, "t-1": 40}
	if len(s.Splits) != 2 {
		t.Fatalf("splits: %+v", s.Splits)
	}
	for _, sp := range s.Splits {
		if sp.Lag != want[sp.ID] || sp.Reader < 0 {
			t.Fatalf("split %+v, want lag %d and its reader", sp, want[sp.ID])
		}
	}
}

func TestLiveRate(t *testing.T) {
	l, _ := newTestLive(engine.Stats{})
	t0 := time.Now()
	if r := l.rate(t0, 0); r != 0 {
		t.Fatalf("first sample: rate %v", r)
	}
	if r := l.rate(t0.Add(2*time.Second), 200); r != 100 {
		t.Fatalf("200 rows in 2s: %v rows/s", r)
	}
	// Past the window, the old samples no longer count: 10 rows/s lately.
	l.rate(t0.Add(10*time.Second), 200)
	if r := l.rate(t0.Add(20*time.Second), 300); r != 10 {
		t.Fatalf("100 rows in the last 10s: %v rows/s, want 10", r)
	}
	if n := len(l.samples); n > 3 {
		t.Fatalf("%d samples kept; the window keeps a few", n)
	}
}

func TestRunControl(t *testing.T) {
	t.Run("in the host", func(t *testing.T) {
		var cause error
		cancelled := make(chan struct{})
		c := newRunControl(func(err error) { cause = err; close(cancelled) })
		c.backstop = 50 * time.Millisecond
		c.runsInHost()
		want := errors.New("cancel requested")
		c.requestCancel(want)
		c.requestCancel(errors.New("again")) // a later request changes nothing
		select {
		case <-c.cancelC:
		default:
			t.Fatal("a cancel of a host run did not close the engine's cancel channel")
		}
		select {
		case <-c.stop:
			t.Fatal("a cancel closed the stop channel (which suspends)")
		default:
		}
		if !c.cancelled() {
			t.Fatal("cancelled() is false after a request")
		}
		// Past the backstop, the run's context is cancelled.
		select {
		case <-cancelled:
		case <-time.After(10 * time.Second):
			t.Fatal("the context was not cancelled after the backstop")
		}
		if cause != want {
			t.Fatalf("cause %v, want %v", cause, want)
		}
	})
	t.Run("disarmed", func(t *testing.T) {
		c := newRunControl(func(error) { t.Error("the context was cancelled after disarm") })
		c.backstop = 50 * time.Millisecond
		c.runsInHost()
		c.requestCancel(errors.New("x"))
		c.disarm()
		time.Sleep(200 * time.Millisecond) // the timer would have fired by now
	})
	t.Run("elsewhere at once", func(t *testing.T) {
		var n int
		c := newRunControl(func(error) { n++ })
		c.requestCancel(errors.New("x"))
		if n != 1 {
			t.Fatalf("a run outside the host was cancelled %d times, want once at once", n)
		}
		select {
		case <-c.cancelC:
			t.Fatal("the engine's cancel channel closed for a run outside the host")
		default:
		}
	})
	t.Run("host stop", func(t *testing.T) {
		c := newRunControl(func(error) {})
		host := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go c.stopOn(ctx, host)
		close(host)
		select {
		case <-c.stop:
		case <-time.After(10 * time.Second):
			t.Fatal("the host's stop did not reach the run")
		}
		c.runsInHost()
		c.requestCancel(errors.New("x")) // both channels close: no panic
		c.disarm()
	})
}

func TestQueueInfoIsDebug(t *testing.T) {
	var buf bytes.Buffer
	l := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info})
	log := slog.New(hclogHandler{l})
	log.Info("producer: Producer job counts", "num_completed_jobs", 0)
	log.Warn("elector: leadership lost")
	out := buf.String()
	if strings.Contains(out, "Producer job counts") {
		t.Fatalf("River's info message is logged at info level:\n%s", out)
	}
	if !strings.Contains(out, "[WARN]  elector: leadership lost") {
		t.Fatalf("River's warning is missing:\n%s", out)
	}
	buf.Reset()
	l.SetLevel(hclog.Debug)
	log.Info("producer: Producer job counts")
	if !strings.Contains(buf.String(), "[DEBUG] producer: Producer job counts") {
		t.Fatalf("at debug level River's info message is missing or not debug:\n%s", buf.String())
	}
}

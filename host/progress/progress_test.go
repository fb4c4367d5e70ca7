package progress_test

import (
	"context"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/progress"
)

func TestTrackerUpdateGetListFinish(t *testing.T) {
	tr := progress.New()
	if _, ok := tr.Get(1); ok {
		t.Fatal("an unknown run has a snapshot")
	}
	tr.Update(1, func(s *progress.Snapshot) {
		s.Flow, s.RowsRead = "a", 10
		s.Splits = []progress.Split{{ID: "p0", Reader: 0, State: progress.SplitAssigned, Lag: 3}}
		at := time.Now()
		s.LastCheckpointAt = &at
	})
	tr.Update(2, func(s *progress.Snapshot) { s.Flow = "b" })
	got, ok := tr.Get(1)
	if !ok || got.RunID != 1 || got.Flow != "a" || got.RowsRead != 10 || got.StartedAt.IsZero() || got.UpdatedAt.IsZero() {
		t.Fatalf("snapshot = %+v, %v", got, ok)
	}
	// A snapshot is a copy: changing it changes nothing in the tracker.
	got.Splits[0].Lag = 99
	*got.LastCheckpointAt = time.Time{}
	again, _ := tr.Get(1)
	if again.Splits[0].Lag != 3 || again.LastCheckpointAt.IsZero() {
		t.Fatalf("the tracker's snapshot changed through a copy: %+v", again)
	}
	if n := len(tr.List()); n != 2 {
		t.Fatalf("List has %d runs, want 2", n)
	}
	tr.Finish(1)
	tr.Finish(1) // twice is harmless
	if _, ok := tr.Get(1); ok {
		t.Fatal("a finished run is still tracked")
	}
	if l := tr.List(); len(l) != 1 || l[0].RunID != 2 {
		t.Fatalf("List after Finish = %+v", l)
	}
}

func TestTrackerSubscribe(t *testing.T) {
	tr := progress.New()
	if _, ok := tr.Subscribe(context.Background(), 7); ok {
		t.Fatal("subscribed to a run not in progress")
	}
	tr.Update(7, func(s *progress.Snapshot) { s.RowsRead = 1 })
	ch, ok := tr.Subscribe(context.Background(), 7)
	if !ok {
		t.Fatal("cannot subscribe to a run in progress")
	}
	if s := <-ch; s.RowsRead != 1 {
		t.Fatalf("first snapshot = %+v, want the current one", s)
	}
	// A slow reader gets the newest snapshot, not a backlog.
	for i := int64(2); i <= 50; i++ {
		tr.Update(7, func(s *progress.Snapshot) { s.RowsRead = i })
	}
	if s := <-ch; s.RowsRead != 50 {
		t.Fatalf("after 49 updates the reader got %d, want the newest (50)", s.RowsRead)
	}
	tr.Finish(7)
	last, open := <-ch
	if !open || !last.Done || last.RowsRead != 50 {
		t.Fatalf("last snapshot = %+v (open %v), want Done with the final counts", last, open)
	}
	if _, open := <-ch; open {
		t.Fatal("the channel stays open after the run's last snapshot")
	}
}

func TestTrackerSubscribeEndsWithContext(t *testing.T) {
	tr := progress.New()
	tr.Update(3, func(*progress.Snapshot) {})
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := tr.Subscribe(ctx, 3)
	<-ch
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, open := <-ch:
			if !open {
				// Updates after the subscriber left do not block or panic.
				tr.Update(3, func(s *progress.Snapshot) { s.RowsRead = 5 })
				tr.Finish(3)
				return
			}
		case <-deadline:
			t.Fatal("the channel did not close after its context ended")
		}
	}
}

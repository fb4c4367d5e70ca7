package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// recorder keeps a run's events, for assertions after (or during) it.
type recorder struct {
	mu     sync.Mutex
	events []engine.Event
	// on, when set, sees every event as it comes (under the lock).
	on func(engine.Event)
}

func (r *recorder) record(ev engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if r.on != nil {
		r.on(ev)
	}
}

func (r *recorder) of(kind string) []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []engine.Event
	for _, ev := range r.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (r *recorder) last(kind string) (engine.Event, bool) {
	evs := r.of(kind)
	if len(evs) == 0 {
		return engine.Event{}, false
	}
	return evs[len(evs)-1], true
}

// splitOrder ranks the states a split goes through; it never goes back.
var splitOrder = map[string]int{progress.SplitPending: 0, progress.SplitAssigned: 1, progress.SplitFinished: 2}

// checkSplitSequence checks that, across splits events, every split only
// moves forward (pending, assigned, finished), that an assigned or
// finished split names a reader below readers, and that the last event
// lists want splits, all finished.
func checkSplitSequence(t *testing.T, events []engine.Event, readers, want int) {
	t.Helper()
	if len(events) == 0 {
		t.Fatal("no splits event")
	}
	state := map[string]string{}
	for i, ev := range events {
		for _, s := range ev.Splits {
			if prev, ok := state[s.ID]; ok && splitOrder[s.State] < splitOrder[prev] {
				t.Errorf("splits event %d: split %s went from %s back to %s", i, s.ID, prev, s.State)
			}
			state[s.ID] = s.State
			if s.State == progress.SplitPending && s.Reader != -1 {
				t.Errorf("splits event %d: pending split %s has reader %d", i, s.ID, s.Reader)
			}
			if s.State != progress.SplitPending && (s.Reader < 0 || s.Reader >= readers) {
				t.Errorf("splits event %d: %s split %s has reader %d of %d", i, s.State, s.ID, s.Reader, readers)
			}
		}
	}
	final := events[len(events)-1].Splits
	if len(final) != want {
		t.Fatalf("last splits event lists %d splits, want %d: %+v", len(final), want, final)
	}
	for _, s := range final {
		if s.State != progress.SplitFinished {
			t.Errorf("last splits event: split %s is %s, want finished", s.ID, s.State)
		}
	}
}

// A bounded CSV source cut into three byte ranges: the splits events show
// the three splits pending (the enumerator announces them), then assigned,
// then finished; the bytes read reach the file's size, which is the total
// from the start.
func TestProgressSplitsAndBytes(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "orders.csv"), filepath.Join(dir, "out", "orders.jsonl")
	writeOrders(t, in, 30_000)
	st, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	size := st.Size()
	f := csvToJSONL("progress", in, out, 2)
	// Three ranges: CSV ranges end at a record boundary after split_size.
	f.Source.Config = json.RawMessage(fmt.Sprintf(`{"path": %q, "format": "csv", "split_size": %d}`, in, size/3+1))
	rec := &recorder{}
	reg := newRegistry(t, testkit.FilePlugin)
	eng := engine.New(engine.Options{Registry: reg, DataDir: dir, OnEvent: rec.record})
	res, err := eng.Run(context.Background(), f, "run-progress")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.RowsRead != 30_000 {
		t.Fatalf("stats = %+v, want 30000 rows read", res.Stats)
	}
	if res.Stats.BytesRead != size {
		t.Errorf("committed bytes read = %d, want the file's size %d", res.Stats.BytesRead, size)
	}
	splits := rec.of("splits")
	checkSplitSequence(t, splits, 2, 3)
	// Announced before any assignment: the first event has all three
	// splits pending, so the total is known before reading starts.
	if first := splits[0].Splits; len(first) != 3 || first[0].State != progress.SplitPending {
		t.Errorf("first splits event = %+v, want the three splits pending", first)
	}
	var sum int64
	for _, ev := range rec.of("progress") {
		if ev.BytesTotal != size {
			t.Errorf("progress event with bytes total %d, want %d from the first one on", ev.BytesTotal, size)
			break
		}
		if ev.BytesRead < sum {
			t.Errorf("bytes read went back from %d to %d", sum, ev.BytesRead)
		}
		sum = ev.BytesRead
	}
	last, ok := rec.last("progress")
	if !ok {
		t.Fatal("no progress event")
	}
	if last.BytesRead != size || last.BytesTotal != size || last.RowsRead != 30_000 || last.RowsWritten != 30_000 {
		t.Errorf("last progress event = read %d rows, wrote %d, bytes %d of %d; want 30000, 30000, %d of %d",
			last.RowsRead, last.RowsWritten, last.BytesRead, last.BytesTotal, size, size)
	}
	cp, _ := rec.last("checkpoint")
	if cp.Checkpoint == nil || !cp.Checkpoint.Final || cp.Checkpoint.Progress == nil || len(cp.Checkpoint.Progress.Finished) != 3 {
		t.Errorf("final checkpoint = %+v, want final with the three finished splits", cp.Checkpoint)
	}
}

// Rejected rows count in the progress events: the source's rejects under
// on_error skip, over three readers and many small splits.
func TestProgressCountsRejected(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "bad.csv"), filepath.Join(dir, "out", "bad.jsonl")
	good, bad := badCSV(t, in)
	rec := &recorder{}
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin), DataDir: dir, OnEvent: rec.record})
	res, err := eng.Run(context.Background(), badRecordFlow("progress-rejects", in, out, flow.OnErrorSkip, ""), "run-rejects")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.RowsRejected != int64(len(bad)) {
		t.Fatalf("stats = %+v, want %d rejected", res.Stats, len(bad))
	}
	last, _ := rec.last("progress")
	if last.RowsRejected != int64(len(bad)) || last.RowsWritten != int64(good) {
		t.Errorf("last progress event: %d written, %d rejected; want %d and %d", last.RowsWritten, last.RowsRejected, good, len(bad))
	}
	// Rejected lines are bytes read too.
	st, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	if last.BytesRead != st.Size() || last.BytesTotal != st.Size() || res.Stats.BytesRead != st.Size() {
		t.Errorf("bytes: last progress %d of %d, committed %d; want the file's size %d", last.BytesRead, last.BytesTotal, res.Stats.BytesRead, st.Size())
	}
}

// A source plugin killed after the first checkpoint: the restarted attempt
// announces the assignment it resumes (a splits event at its start), and
// the bytes read count every byte of the file once, not the part read
// again after the restore.
func TestProgressAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "orders.csv"), filepath.Join(dir, "out", "orders.jsonl")
	writeOrders(t, in, 1_000_000)
	st, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	f := csvToJSONL("progress-restart", in, out, 2)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(150 * time.Millisecond)}
	var pids []int
	killed, restarts, splitsAfterRestart := 0, 0, 0
	rec := &recorder{}
	rec.on = func(ev engine.Event) {
		switch ev.Kind {
		case "plugin_started":
			if ev.Role == "source" {
				pids = append(pids, ev.Pid)
			}
		case "restart":
			restarts++
		case "splits":
			if restarts > 0 && splitsAfterRestart == 0 {
				splitsAfterRestart = len(ev.Splits)
			}
		case "checkpoint":
			if ev.Checkpoint.ID == 1 && !ev.Checkpoint.Final && killed == 0 {
				killed = pids[0]
				if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
					t.Errorf("kill %d: %v", killed, err)
				}
			}
		}
	}
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin), DataDir: dir, OnEvent: rec.record})
	res, err := eng.Run(context.Background(), f, "run-progress-restart")
	if err != nil {
		t.Fatal(err)
	}
	if killed == 0 || res.Stats.Restarts < 1 {
		t.Fatalf("the source was not killed and restarted (killed %d, stats %+v)", killed, res.Stats)
	}
	if splitsAfterRestart == 0 {
		t.Error("the restarted attempt sent no splits event")
	}
	if res.Stats.BytesRead != st.Size() {
		t.Errorf("committed bytes read = %d, want the file's size %d", res.Stats.BytesRead, st.Size())
	}
	last, _ := rec.last("progress")
	if last.BytesRead != st.Size() || last.BytesTotal != st.Size() {
		t.Errorf("last progress event: bytes %d of %d, want %d of %d", last.BytesRead, last.BytesTotal, st.Size(), st.Size())
	}
	splits := rec.of("splits")
	want := len(splits[len(splits)-1].Splits)
	if want < 2 {
		t.Fatalf("the file was planned as %d splits, want several", want)
	}
	checkSplitSequenceFrom(t, splits, restartIndex(splits, rec), 2, want)
}

// restartIndex is the index of the first splits event after the restart.
func restartIndex(splits []engine.Event, rec *recorder) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n, restarted := 0, false
	for _, ev := range rec.events {
		switch ev.Kind {
		case "restart":
			restarted = true
		case "splits":
			if restarted {
				return n
			}
			n++
		}
	}
	return len(splits)
}

// checkSplitSequenceFrom checks the splits events of the restarted attempt:
// a split of the first attempt may be read again after the restore (it
// goes back to assigned), so only the events from the restart on must move
// forward.
func checkSplitSequenceFrom(t *testing.T, splits []engine.Event, from, readers, want int) {
	t.Helper()
	if from >= len(splits) {
		t.Fatal("no splits event after the restart")
	}
	checkSplitSequence(t, splits[from:], readers, want)
}

package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk/flow"
)

// continuousCSV is a continuous file source over dir's CSV files into the
// JSON-lines file out.
func continuousCSV(name, dir, out string) *flow.Flow {
	return &flow.Flow{
		Name: name,
		Source: flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(
			`{"path": %q, "format": "csv", "mode": "continuous", "discover_interval": "100ms"}`, filepath.Join(dir, "*.csv")))},
		Parallelism: 2,
		Sink:        flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
	}
}

// runUntilRead runs f on eng in the background and closes stop once the
// run has read rows rows; it returns the run's result.
func runUntilRead(t *testing.T, eng *engine.Engine, rec *recorder, stop chan struct{}, f *flow.Flow, runID string, rows int64) (engine.Result, error) {
	t.Helper()
	type outcome struct {
		res engine.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := eng.Run(context.Background(), f, runID)
		done <- outcome{res, err}
	}()
	deadline := time.After(2 * time.Minute)
	for {
		if last, ok := rec.last("progress"); ok && last.RowsRead >= rows {
			break
		}
		select {
		case o := <-done:
			t.Fatalf("the unbounded run ended before it was stopped: %+v, %v", o.res, o.err)
		case <-deadline:
			t.Fatalf("the run did not read %d rows within 2m", rows)
		case <-time.After(20 * time.Millisecond):
		}
	}
	close(stop)
	select {
	case o := <-done:
		return o.res, o.err
	case <-time.After(time.Minute):
		t.Fatal("the stopped run did not return within 1m")
	}
	return engine.Result{}, nil
}

// Closing Options.Stop ends an unbounded run gracefully: a final
// checkpoint, committed (the sink publishes its output), then Run returns
// without error.
func TestStopTakesFinalCheckpoint(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	want := writeOrders(t, filepath.Join(in, "a.csv"), 5000)
	out := filepath.Join(dir, "out", "orders.jsonl")
	rec := &recorder{}
	stop := make(chan struct{})
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin), DataDir: dir, OnEvent: rec.record, Stop: stop})
	res, err := runUntilRead(t, eng, rec, stop, continuousCSV("stopped", in, out), "run-stop", 5000)
	if err != nil {
		t.Fatalf("stopped run failed: %v", err)
	}
	if res.Suspended {
		t.Error("the run is suspended, want finished (Options.Suspend is off)")
	}
	if res.Stats.RowsRead != 5000 || res.Stats.RowsWritten != 5000 {
		t.Fatalf("stats = %+v, want 5000 rows read and written", res.Stats)
	}
	cp, _ := rec.last("checkpoint")
	if cp.Checkpoint == nil || !cp.Checkpoint.Final || cp.Checkpoint.Stats.RowsWritten != 5000 {
		t.Fatalf("last checkpoint = %+v, want a final one covering 5000 rows", cp.Checkpoint)
	}
	// The final checkpoint's commit published the output.
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), want)
}

// With Options.Suspend, the stop's last checkpoint is not final and does
// not publish: the run is suspended, and running it again with the same
// id resumes it, without a row read twice.
func TestStopSuspends(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	want := writeOrders(t, filepath.Join(in, "a.csv"), 3000)
	out := filepath.Join(dir, "out", "orders.jsonl")
	store := engine.NewMemoryStore()
	reg := newRegistry(t, testkit.FilePlugin)
	rec := &recorder{}
	stop := make(chan struct{})
	eng := engine.New(engine.Options{Registry: reg, DataDir: dir, OnEvent: rec.record, Stop: stop, Suspend: true, Checkpoints: store})
	res, err := runUntilRead(t, eng, rec, stop, continuousCSV("suspended", in, out), "run-suspend", 3000)
	if err != nil {
		t.Fatalf("suspended run failed: %v", err)
	}
	if !res.Suspended {
		t.Fatal("the stopped run is not suspended")
	}
	cp, _ := rec.last("checkpoint")
	if cp.Checkpoint == nil || cp.Checkpoint.Final {
		t.Fatalf("last checkpoint = %+v, want one that is not final", cp.Checkpoint)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a suspended run published its output: %v", err)
	}
	// Resumed (no longer suspending) with a new file: it reads only that.
	more := testkit.Canon(testkit.WriteOrdersCSV(t, filepath.Join(in, "b.csv"), 3001, 1000))
	rec2 := &recorder{}
	stop2 := make(chan struct{})
	eng2 := engine.New(engine.Options{Registry: reg, DataDir: dir, OnEvent: rec2.record, Stop: stop2, Checkpoints: store})
	res, err = runUntilRead(t, eng2, rec2, stop2, continuousCSV("suspended", in, out), "run-suspend", 1000)
	if err != nil {
		t.Fatalf("resumed run failed: %v", err)
	}
	if res.Stats.RowsRead != 4000 || res.Stats.RowsWritten != 4000 {
		t.Fatalf("stats = %+v, want 4000 rows read and written over both", res.Stats)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), append(want, more...))
}

// Closing Options.Cancel ends an unbounded run with a final checkpoint that
// publishes, even where stops suspend (Options.Suspend), and Run returns
// ErrCancelled.
func TestCancelUnboundedPublishes(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	want := writeOrders(t, filepath.Join(in, "a.csv"), 4000)
	out := filepath.Join(dir, "out", "orders.jsonl")
	rec := &recorder{}
	cancel := make(chan struct{})
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin), DataDir: dir, OnEvent: rec.record,
		Stop: make(chan struct{}), Suspend: true, Cancel: cancel})
	res, err := runUntilRead(t, eng, rec, cancel, continuousCSV("cancelled", in, out), "run-cancel", 4000)
	if !errors.Is(err, engine.ErrCancelled) {
		t.Fatalf("cancelled run: error %v, want ErrCancelled", err)
	}
	if res.Suspended || res.Stats.RowsWritten != 4000 {
		t.Fatalf("result %+v, want not suspended, 4000 rows written", res)
	}
	cp, _ := rec.last("checkpoint")
	if cp.Checkpoint == nil || !cp.Checkpoint.Final {
		t.Fatalf("last checkpoint = %+v, want a final one", cp.Checkpoint)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), want)
}

// Closing Options.Cancel ends a bounded run at once, without a final
// checkpoint: Run returns ErrCancelled long before the input is read, and
// nothing is restarted.
func TestCancelBoundedStopsAtOnce(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeOrders(t, in, 2000000)
	out := filepath.Join(dir, "out.jsonl")
	rec := &recorder{}
	cancel := make(chan struct{})
	f := &flow.Flow{Name: "bounded-cancel", Parallelism: 1,
		Source: flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q, "batch_size": 1000}`, in))},
		Sink:   flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))}}
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin), DataDir: dir, OnEvent: rec.record, Cancel: cancel})
	res, err := runUntilRead(t, eng, rec, cancel, f, "run-bounded-cancel", 1)
	if !errors.Is(err, engine.ErrCancelled) {
		t.Fatalf("cancelled run: error %v, want ErrCancelled", err)
	}
	if res.Stats.RowsRead >= 2000000 || res.Stats.Restarts != 0 {
		t.Fatalf("stats %+v: want the run cut short, not restarted", res.Stats)
	}
	if _, ok := rec.last("restart"); ok {
		t.Fatal("a cancelled run was restarted")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a bounded run cancelled before its end published output: %v", err)
	}
}

package iceberg_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/iceberg"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/sdktest"
)

// flushAndCommit pre-commits checkpoint id and commits it, as the host does
// once the checkpoint is persisted.
func flushAndCommit(t *testing.T, s sdk.Sink, id int64, final bool) sdk.FlushResult {
	t.Helper()
	ctx := context.Background()
	res, err := s.Flush(ctx, id, final)
	if err != nil {
		t.Fatalf("Flush(%d): %v", id, err)
	}
	commit(t, s, sdk.CommitRequest{CheckpointID: id, Committables: res.Committables, Final: final})
	return res
}

func commit(t *testing.T, s sdk.Sink, req sdk.CommitRequest) {
	t.Helper()
	c, ok := s.(sdk.Committer)
	if !ok {
		t.Fatal("the iceberg sink does not implement sdk.Committer")
	}
	if err := c.Commit(context.Background(), req); err != nil {
		t.Fatalf("Commit(%d, restored=%v): %v", req.CheckpointID, req.Restored, err)
	}
}

// crashSink drives one table through the sink as the host would, with the
// attempts a crash leaves behind.
type crashSink struct {
	t   *testing.T
	w   *warehouse
	tbl string
}

// open starts an attempt. The sink is closed at the end of the test only:
// a killed attempt never closes, and Close must not matter for what was
// flushed.
func (c *crashSink) open(init sdk.SinkInit) sdk.Sink {
	c.t.Helper()
	ctx := context.Background()
	s, err := component(sdk.KindSink).NewSinkFromConfig(c.w.config(c.tbl, nil))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { s.Close(ctx) })
	init.Flow = "f"
	if init.RunID == "" {
		init.RunID = "r1"
	}
	if err := s.Open(ctx, init); err != nil {
		c.t.Fatalf("Open(restored %d): %v", init.RestoredCheckpointID, err)
	}
	return s
}

// restore opens the attempt that restores checkpoint id (whose Flush
// returned res) and commits it again, as the host does before any Write.
func (c *crashSink) restore(id int64, res sdk.FlushResult, final bool) sdk.Sink {
	c.t.Helper()
	s := c.open(sdk.SinkInit{RestoredState: res.State, RestoredCheckpointID: id})
	commit(c.t, s, sdk.CommitRequest{CheckpointID: id, Committables: res.Committables, Restored: true, Final: final})
	return s
}

func (c *crashSink) write(s sdk.Sink, from, n int) {
	c.t.Helper()
	rec := batch(from, n)
	defer rec.Release()
	if err := s.Write(context.Background(), rec); err != nil {
		c.t.Fatal(err)
	}
}

func (c *crashSink) flush(s sdk.Sink, id int64, final bool) sdk.FlushResult {
	c.t.Helper()
	res, err := s.Flush(context.Background(), id, final)
	if err != nil {
		c.t.Fatalf("Flush(%d): %v", id, err)
	}
	return res
}

// snapshots returns the table's snapshot count and, per checkpoint id, the
// snapshots of flow f, run r1 that carry it.
func (c *crashSink) snapshots() (int, map[int64]int) {
	c.t.Helper()
	tb, closeCat := c.w.open(c.t, c.tbl)
	defer closeCat()
	per := map[int64]int{}
	all := tb.Metadata().Snapshots()
	for _, s := range all {
		if s.Summary == nil {
			c.t.Fatalf("snapshot %d has no summary", s.SnapshotID)
		}
		p := s.Summary.Properties
		if p[iceberg.SummaryFlow] != "f" || p[iceberg.SummaryRun] != "r1" {
			c.t.Fatalf("snapshot %d has summary %v, want adf.flow=f and adf.run-id=r1", s.SnapshotID, p)
		}
		id, err := strconv.ParseInt(p[iceberg.SummaryCheckpoint], 10, 64)
		if err != nil {
			c.t.Fatalf("snapshot %d has summary %v: no checkpoint id", s.SnapshotID, p)
		}
		per[id]++
	}
	return len(all), per
}

// wantSnapshots checks that checkpoint ids have one snapshot each and
// nothing else does.
func (c *crashSink) wantSnapshots(ids ...int64) {
	c.t.Helper()
	n, per := c.snapshots()
	for _, id := range ids {
		if per[id] != 1 {
			c.t.Fatalf("checkpoint %d has %d snapshots, want 1 (snapshots per checkpoint: %v)", id, per[id], per)
		}
	}
	if n != len(ids) {
		c.t.Fatalf("table has %d snapshots (per checkpoint %v), want %d for checkpoints %v", n, per, len(ids), ids)
	}
}

// dataFiles returns the local paths of the data files a Flush pre-committed.
func dataFiles(t *testing.T, res sdk.FlushResult) []string {
	t.Helper()
	var c struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if err := json.Unmarshal(res.Committables, &c); err != nil {
		t.Fatalf("committables %s: %v", res.Committables, err)
	}
	var out []string
	for _, f := range c.Files {
		out = append(out, strings.TrimPrefix(f.Path, "file://"))
	}
	if len(out) == 0 {
		t.Fatalf("Flush pre-committed no data files: %s", res.Committables)
	}
	return out
}

// crashWindows runs every crash window of the two-phase commit on tables of
// namespace ns in w's catalog (SQLite here, REST in TestRESTCatalog).
func crashWindows(t *testing.T, w *warehouse, ns string) {
	// (a) Flush(2) ran, the sink died before Commit(2) and the host never
	// persisted checkpoint 2: the attempt restores 1. No snapshot for 2, its
	// files are deleted, the replayed rows are committed once.
	t.Run("flushed_not_persisted", func(t *testing.T) {
		c := &crashSink{t: t, w: w, tbl: ns + ".window_a"}
		s1 := c.open(sdk.SinkInit{})
		c.write(s1, 0, 100)
		res1 := flushAndCommit(t, s1, 1, false)
		c.write(s1, 100, 100)
		res2 := c.flush(s1, 2, false) // the attempt dies here
		c.wantSnapshots(1)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 100))
		files2 := dataFiles(t, res2)
		for _, p := range files2 {
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("pre-committed data file %s of checkpoint 2 is not durable: %v", p, err)
			}
		}

		s2 := c.restore(1, res1, false)
		c.wantSnapshots(1)
		for _, p := range files2 {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("data file %s of the undurable checkpoint 2 was not deleted at Open (stat: %v)", p, err)
			}
		}
		c.write(s2, 100, 200) // the replay, and more
		flushAndCommit(t, s2, 3, true)
		c.wantSnapshots(1, 3)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 300))
		sdktest.TestSource(t, component(sdk.KindSource), sdktest.SourceOptions{Config: w.config(c.tbl, nil), ExpectRows: 300})
	})

	// (b) Flush(2) ran and the host persisted checkpoint 2, but Commit(2)
	// never did: the restored Commit(2) appends it exactly once.
	t.Run("persisted_not_committed", func(t *testing.T) {
		c := &crashSink{t: t, w: w, tbl: ns + ".window_b"}
		s1 := c.open(sdk.SinkInit{})
		c.write(s1, 0, 100)
		flushAndCommit(t, s1, 1, false)
		c.write(s1, 100, 100)
		res2 := c.flush(s1, 2, false) // persisted; the attempt dies before Commit
		c.wantSnapshots(1)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 100))

		s2 := c.restore(2, res2, false)
		c.wantSnapshots(1, 2)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 200))
		// Commit stays idempotent within the attempt too.
		commit(t, s2, sdk.CommitRequest{CheckpointID: 2, Committables: res2.Committables, Restored: true})
		c.wantSnapshots(1, 2)
		c.write(s2, 200, 50)
		flushAndCommit(t, s2, 3, true)
		c.wantSnapshots(1, 2, 3)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 250))
	})

	// (c) Commit(2) ran, then the sink died: the restored Commit(2) finds the
	// snapshot and adds nothing.
	t.Run("committed", func(t *testing.T) {
		c := &crashSink{t: t, w: w, tbl: ns + ".window_c"}
		s1 := c.open(sdk.SinkInit{})
		c.write(s1, 0, 100)
		flushAndCommit(t, s1, 1, false)
		c.write(s1, 100, 100)
		res2 := flushAndCommit(t, s1, 2, false) // the attempt dies after Commit
		c.write(s1, 200, 30)                    // never flushed
		c.wantSnapshots(1, 2)

		s2 := c.restore(2, res2, false)
		c.wantSnapshots(1, 2)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 200))
		c.write(s2, 200, 50)
		flushAndCommit(t, s2, 3, true)
		c.wantSnapshots(1, 2, 3)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 250))
	})

	// (d) The final checkpoint: persisted but not committed, and committed.
	t.Run("final_not_committed", func(t *testing.T) {
		c := &crashSink{t: t, w: w, tbl: ns + ".window_d1"}
		s1 := c.open(sdk.SinkInit{})
		c.write(s1, 0, 100)
		res1 := c.flush(s1, 1, true) // persisted; the attempt dies before Commit
		c.wantSnapshots()
		c.restore(1, res1, true)
		c.wantSnapshots(1)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 100))
	})
	t.Run("final_committed", func(t *testing.T) {
		c := &crashSink{t: t, w: w, tbl: ns + ".window_d2"}
		s1 := c.open(sdk.SinkInit{})
		c.write(s1, 0, 100)
		res1 := flushAndCommit(t, s1, 1, true) // the attempt dies after Commit
		c.wantSnapshots(1)
		c.restore(1, res1, true)
		c.restore(1, res1, true) // and once more
		c.wantSnapshots(1)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 100))
	})

	// A Commit without the committables of a checkpoint that flushed data
	// files is a protocol violation: it fails (code internal) and appends
	// nothing, in the flushing attempt and after a restore alike. The files
	// stay pre-committed, and the proper Commit still appends them once.
	t.Run("commit_without_committables", func(t *testing.T) {
		c := &crashSink{t: t, w: w, tbl: ns + ".window_nocommittables"}
		s1 := c.open(sdk.SinkInit{})
		c.write(s1, 0, 100)
		res1 := c.flush(s1, 1, false)
		if len(res1.State) != 0 {
			t.Errorf("Flush(1) returned writer state %s, want none", res1.State)
		}
		wantProtocolError(t, s1, sdk.CommitRequest{CheckpointID: 1})
		c.wantSnapshots()

		s2 := c.open(sdk.SinkInit{RestoredState: res1.State, RestoredCheckpointID: 1})
		wantProtocolError(t, s2, sdk.CommitRequest{CheckpointID: 1, Restored: true})
		c.wantSnapshots()
		commit(t, s2, sdk.CommitRequest{CheckpointID: 1, Committables: res1.Committables, Restored: true})
		c.wantSnapshots(1)
		testkit.SameRows(t, w.readRows(t, c.tbl), rowsOf(0, 100))

		// A checkpoint without rows flushed no files: nothing to append.
		c.flush(s2, 2, true)
		commit(t, s2, sdk.CommitRequest{CheckpointID: 2, Final: true})
		c.wantSnapshots(1)
	})
}

// wantProtocolError checks that Commit(req) fails with an sdk.Error of code
// internal.
func wantProtocolError(t *testing.T, s sdk.Sink, req sdk.CommitRequest) {
	t.Helper()
	err := s.(sdk.Committer).Commit(context.Background(), req)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeInternal {
		t.Fatalf("Commit(%d, restored=%v) without committables: %v, want an sdk.Error with code %q", req.CheckpointID, req.Restored, err, sdk.CodeInternal)
	}
	if !strings.Contains(se.Summary, "without its committables") {
		t.Errorf("Commit without committables: summary %q does not say the committables are missing", se.Summary)
	}
}

// Every crash window of the two-phase commit, in process, on the SQLite
// catalog: the table is exact row by row after each.
func TestCrashWindows(t *testing.T) {
	crashWindows(t, newWarehouse(t), "db")
}

package file_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/activedataflow/adf/sdk"
)

// The tests below drive the sink as the host does around crashes: a crash is
// a sink dropped without Close (a killed process closes nothing), a restore
// is a new sink opened with a flushed checkpoint's state and id, followed by
// that checkpoint's Commit with Restored set. Checkpoint ids never repeat in
// a run, so the attempt after a restore continues with new ids.

const rowsPerBatch = 50

// testBatch is batch i: ids i*50 ... i*50+49 with their names.
func testBatch(i int) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	ids := array.NewInt64Builder(mem)
	names := array.NewStringBuilder(mem)
	defer ids.Release()
	defer names.Release()
	for j := 0; j < rowsPerBatch; j++ {
		ids.Append(int64(i*rowsPerBatch + j))
		names.Append(fmt.Sprintf("name %d", i*rowsPerBatch+j))
	}
	a, b := ids.NewArray(), names.NewArray()
	defer a.Release()
	defer b.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{a, b}, rowsPerBatch)
}

// batchRows renders batches the way readJSONL renders output lines.
func batchRows(batches ...int) []string {
	var out []string
	for _, i := range batches {
		for j := 0; j < rowsPerBatch; j++ {
			id := i*rowsPerBatch + j
			out = append(out, fmt.Sprintf("%d\x1fname %d", id, id))
		}
	}
	return out
}

// checkpoint is what the host keeps of one Flush.
type checkpoint struct {
	id    int64
	final bool
	res   sdk.FlushResult
}

// harness runs one sink configuration through attempts of one run.
type harness struct {
	t    *testing.T
	name string
	out  string // the output file, or the directory
	dir  bool
	csv  bool
	pq   bool // Parquet
	run  string
	flow string // default flow/x
}

var sinkModes = []struct {
	name         string
	dir, csv, pq bool
}{
	{"file", false, false, false},
	{"csv", false, true, false},
	{"directory", true, false, false},
	{"parquet", false, false, true},
	{"parquet-directory", true, false, true},
}

// forEachMode runs test for a single JSON-lines file, a single CSV file and
// a directory of parts.
func forEachMode(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, m := range sinkModes {
		t.Run(m.name, func(t *testing.T) {
			h := &harness{t: t, dir: m.dir, csv: m.csv, pq: m.pq, run: "run-1"}
			base := t.TempDir()
			switch {
			case m.dir && m.pq:
				h.out = filepath.Join(base, "pq-parts") + "/"
			case m.pq:
				h.out = filepath.Join(base, "out.parquet")
			case m.dir:
				h.out = filepath.Join(base, "parts") + "/"
			case m.csv:
				h.out = filepath.Join(base, "out.csv")
			default:
				h.out = filepath.Join(base, "out.jsonl")
			}
			test(t, h)
		})
	}
}

func (h *harness) newSink() sdk.Sink {
	h.t.Helper()
	cfg := fmt.Sprintf(`{"path": %q}`, h.out)
	if h.pq {
		cfg = fmt.Sprintf(`{"path": %q, "format": "parquet", "row_group_size": 70}`, h.out)
	}
	s, err := component(h.t, sdk.KindSink).NewSinkFromConfig([]byte(cfg))
	if err != nil {
		h.t.Fatalf("create sink: %v", err)
	}
	if _, ok := s.(sdk.Committer); !ok {
		h.t.Fatal("file sink does not implement sdk.Committer")
	}
	if _, ok := s.(sdk.CheckpointListener); ok {
		h.t.Fatal("file sink still implements sdk.CheckpointListener")
	}
	return s
}

func (h *harness) init(restore *checkpoint) sdk.SinkInit {
	flow := h.flow
	if flow == "" {
		flow = "flow/x"
	}
	init := sdk.SinkInit{Flow: flow, RunID: h.run, Reject: func(r sdk.Rejected) error {
		h.t.Errorf("sink rejected a valid row: %+v", r)
		return nil
	}}
	if restore != nil {
		init.RestoredState = restore.res.State
		if init.RestoredState == nil {
			init.RestoredState = []byte{}
		}
		init.RestoredCheckpointID = restore.id
	}
	return init
}

// open opens a sink, fresh or restoring a checkpoint (then committing it
// again, as the host does before any Write).
func (h *harness) open(restore *checkpoint) sdk.Sink {
	h.t.Helper()
	s := h.newSink()
	if err := s.Open(context.Background(), h.init(restore)); err != nil {
		h.t.Fatalf("Open: %v", err)
	}
	if restore != nil {
		if err := s.(sdk.Committer).Commit(context.Background(), sdk.CommitRequest{CheckpointID: restore.id,
			Committables: restore.res.Committables, Restored: true, Final: restore.final}); err != nil {
			h.t.Fatalf("Commit(%d, restored): %v", restore.id, err)
		}
	}
	return s
}

func (h *harness) write(s sdk.Sink, batches ...int) {
	h.t.Helper()
	for _, i := range batches {
		rec := testBatch(i)
		err := s.Write(context.Background(), rec)
		rec.Release()
		if err != nil {
			h.t.Fatalf("Write batch %d: %v", i, err)
		}
	}
}

func (h *harness) flush(s sdk.Sink, id int64, final bool) *checkpoint {
	h.t.Helper()
	res, err := s.Flush(context.Background(), id, final)
	if err != nil {
		h.t.Fatalf("Flush(%d): %v", id, err)
	}
	return &checkpoint{id: id, final: final, res: res}
}

func (h *harness) commit(s sdk.Sink, c *checkpoint) {
	h.t.Helper()
	if err := s.(sdk.Committer).Commit(context.Background(), sdk.CommitRequest{CheckpointID: c.id,
		Committables: c.res.Committables, Final: c.final}); err != nil {
		h.t.Fatalf("Commit(%d): %v", c.id, err)
	}
}

func (h *harness) close(s sdk.Sink) {
	h.t.Helper()
	if err := s.Close(context.Background()); err != nil {
		h.t.Fatalf("Close: %v", err)
	}
}

// outDir is the directory holding the output and the sink's hidden files.
func (h *harness) outDir() string {
	if h.dir {
		return h.out
	}
	return filepath.Dir(h.out)
}

// published lists the visible output files: the output file if it exists,
// or the directory's part files in checkpoint order.
func (h *harness) published() []string {
	h.t.Helper()
	if !h.dir {
		if _, err := os.Stat(h.out); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return []string{h.out}
	}
	parts, err := filepath.Glob(filepath.Join(h.out, "part-*"))
	if err != nil {
		h.t.Fatal(err)
	}
	sort.Strings(parts)
	return parts
}

// hidden lists the sink's hidden files.
func (h *harness) hidden() []string {
	h.t.Helper()
	files, err := filepath.Glob(filepath.Join(h.outDir(), ".*"))
	if err != nil {
		h.t.Fatal(err)
	}
	return files
}

// expectParts checks the published part files by checkpoint id.
func (h *harness) expectParts(ids ...int64) {
	h.t.Helper()
	if !h.dir {
		return
	}
	var want []string
	for _, id := range ids {
		want = append(want, filepath.Join(h.out, fmt.Sprintf("part-%s-%06d%s", h.run, id, h.ext())))
	}
	if got := h.published(); !slices.Equal(got, want) {
		h.t.Fatalf("published parts %v, want %v", got, want)
	}
}

// expectNothingOf checks that no file, hidden or not, belongs to a
// checkpoint of this run.
func (h *harness) expectNothingOf(id int64) {
	h.t.Helper()
	if !h.dir {
		return
	}
	files, _ := filepath.Glob(filepath.Join(h.out, fmt.Sprintf("*%s-%06d*", h.run, id)))
	files2, _ := filepath.Glob(filepath.Join(h.out, fmt.Sprintf(".*%s-%06d*", h.run, id)))
	if files = append(files, files2...); len(files) > 0 {
		h.t.Fatalf("files of unsaved checkpoint %d remain: %v", id, files)
	}
}

// expectRows checks the published output row by row, in order, and that it
// holds no NUL byte and the sink left no hidden file behind.
func (h *harness) expectRows(batches ...int) {
	h.t.Helper()
	files := h.published()
	if len(files) == 0 {
		h.t.Fatal("nothing published")
	}
	var got []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			h.t.Fatal(err)
		}
		if h.pq {
			got = append(got, readParquetRows(h.t, f)...)
			continue
		}
		if i := bytes.IndexByte(data, 0); i >= 0 {
			h.t.Fatalf("%s holds a NUL byte at offset %d of %d", f, i, len(data))
		}
		if h.csv {
			got = append(got, csvRows(h.t, data)...)
		} else {
			got = append(got, readJSONL(h.t, f)...)
		}
	}
	if want := batchRows(batches...); !slices.Equal(got, want) {
		h.t.Fatalf("published %d rows, want %d (batches %v):\n got %.300q\nwant %.300q", len(got), len(want), batches, got, want)
	}
	if left := h.hidden(); len(left) > 0 {
		h.t.Fatalf("hidden files left after the final commit: %v", left)
	}
}

func (h *harness) ext() string {
	switch {
	case h.pq:
		return ".parquet"
	case h.csv:
		return ".csv"
	}
	return ".jsonl"
}

// readParquetRows renders a Parquet file of id and name rows as readJSONL
// does (read in process with pqarrow; the pyarrow tests check the files
// independently).
func readParquetRows(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1000)
	defer tr.Release()
	var out []string
	for tr.Next() {
		rec := tr.RecordBatch()
		ids, names := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, fmt.Sprintf("%d\x1f%s", ids.Value(i), names.Value(i)))
		}
	}
	return out
}

// csvRows renders CSV output with its header exactly once.
func csvRows(t *testing.T, data []byte) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != "id,name" {
		t.Fatalf("CSV header %q, want id,name", lines[0])
	}
	var rows []string
	for _, l := range lines[1:] {
		if l == "id,name" {
			t.Fatal("CSV header repeated")
		}
		rows = append(rows, strings.Replace(l, ",", "\x1f", 1))
	}
	return rows
}

// (a) Flush(2) ran, then the sink died before the host saved checkpoint 2:
// the restore from checkpoint 1 leaves nothing of checkpoint 2.
func TestSinkCrashAfterFlushBeforeSave(t *testing.T) {
	forEachMode(t, func(t *testing.T, h *harness) {
		s1 := h.open(nil)
		h.write(s1, 0)
		c1 := h.flush(s1, 1, false)
		h.commit(s1, c1)
		h.write(s1, 1)
		h.flush(s1, 2, false)
		h.write(s1, 2) // not flushed either
		// Crash. Checkpoint 2 is not saved, so nothing of it is visible.
		if h.dir {
			h.expectParts(1)
		} else if got := h.published(); got != nil {
			t.Fatalf("output published before the final commit: %v", got)
		}

		s2 := h.open(c1)
		h.expectNothingOf(2)
		h.write(s2, 1)
		c3 := h.flush(s2, 3, false)
		h.commit(s2, c3)
		h.write(s2, 2)
		c4 := h.flush(s2, 4, true)
		h.commit(s2, c4)
		h.close(s2)
		h.expectParts(1, 3, 4)
		h.expectNothingOf(2)
		h.expectRows(0, 1, 2)
	})
}

// (b) Checkpoint 2 was saved but its Commit never ran: the restore commits
// it.
func TestSinkCrashAfterSaveBeforeCommit(t *testing.T) {
	forEachMode(t, func(t *testing.T, h *harness) {
		s1 := h.open(nil)
		h.write(s1, 0)
		c1 := h.flush(s1, 1, false)
		h.commit(s1, c1)
		h.write(s1, 1)
		c2 := h.flush(s1, 2, false)
		h.write(s1, 2)
		// Crash before Commit(2).
		h.expectParts(1)

		s2 := h.open(c2)
		h.expectParts(1, 2)
		h.write(s2, 2)
		c3 := h.flush(s2, 3, true)
		h.commit(s2, c3)
		h.close(s2)
		h.expectParts(1, 2, 3)
		h.expectRows(0, 1, 2)
	})
}

// (c) Commit ran wholly, or in part, before the crash: committing again on
// restore changes nothing.
func TestSinkCrashAfterCommit(t *testing.T) {
	forEachMode(t, func(t *testing.T, h *harness) {
		s1 := h.open(nil)
		h.write(s1, 0)
		c1 := h.flush(s1, 1, false)
		h.commit(s1, c1)
		h.write(s1, 1)
		c2 := h.flush(s1, 2, false)
		h.commit(s1, c2)
		h.commit(s1, c2) // a repeated Commit is a no-op too
		h.write(s1, 2)
		// Crash after Commit(2).

		s2 := h.open(c2)
		h.expectParts(1, 2)
		h.write(s2, 2)
		c3 := h.flush(s2, 3, true)
		h.commit(s2, c3)
		h.close(s2)
		h.expectParts(1, 2, 3)
		h.expectRows(0, 1, 2)
	})
}

func TestSinkCrashDuringCommit(t *testing.T) {
	forEachMode(t, func(t *testing.T, h *harness) {
		// Checkpoint 2 is flushed before checkpoint 1 is committed, so its
		// committables cover both parts; the crash comes after Commit(1):
		// the restored Commit(2) finds part 1 published and publishes 2.
		s1 := h.open(nil)
		h.write(s1, 0)
		c1 := h.flush(s1, 1, false)
		h.write(s1, 1)
		c2 := h.flush(s1, 2, false)
		h.commit(s1, c1)
		h.expectParts(1)

		s2 := h.open(c2)
		h.expectParts(1, 2)
		h.write(s2, 2)
		c3 := h.flush(s2, 3, true)
		h.commit(s2, c3)
		h.close(s2)
		h.expectParts(1, 2, 3)
		h.expectRows(0, 1, 2)
	})
}

// A Commit skipped altogether (Commit(1) never ran, checkpoint 2 saved)
// strands no part: checkpoint 2's committables still hold part 1.
func TestSinkSkippedCommit(t *testing.T) {
	forEachMode(t, func(t *testing.T, h *harness) {
		s1 := h.open(nil)
		h.write(s1, 0)
		h.flush(s1, 1, false)
		h.write(s1, 1)
		c2 := h.flush(s1, 2, false)

		s2 := h.open(c2)
		h.expectParts(1, 2)
		c3 := h.flush(s2, 3, true)
		h.commit(s2, c3)
		h.close(s2)
		h.expectRows(0, 1)
	})
}

// (d) The final checkpoint: a crash after its Flush (not saved), after its
// save (not committed) and after its Commit.
func TestSinkCrashAtFinalCheckpoint(t *testing.T) {
	// attempt1 runs a first attempt to the final Flush(2).
	attempt1 := func(h *harness) (s1 sdk.Sink, c1, c2 *checkpoint) {
		s1 = h.open(nil)
		h.write(s1, 0)
		c1 = h.flush(s1, 1, false)
		h.commit(s1, c1)
		h.write(s1, 1)
		c2 = h.flush(s1, 2, true)
		return s1, c1, c2
	}
	t.Run("not saved", func(t *testing.T) {
		forEachMode(t, func(t *testing.T, h *harness) {
			_, c1, _ := attempt1(h)
			if h.dir {
				h.expectParts(1)
			} else if got := h.published(); got != nil {
				t.Fatalf("output published before the final commit: %v", got)
			}
			s2 := h.open(c1)
			h.expectNothingOf(2)
			h.write(s2, 1)
			c3 := h.flush(s2, 3, true)
			h.commit(s2, c3)
			h.close(s2)
			h.expectParts(1, 3)
			h.expectRows(0, 1)
		})
	})
	t.Run("saved, not committed", func(t *testing.T) {
		forEachMode(t, func(t *testing.T, h *harness) {
			_, _, c2 := attempt1(h)
			s2 := h.open(c2)
			h.close(s2)
			h.expectParts(1, 2)
			h.expectRows(0, 1)
		})
	})
	t.Run("committed", func(t *testing.T) {
		forEachMode(t, func(t *testing.T, h *harness) {
			s1, _, c2 := attempt1(h)
			h.commit(s1, c2)
			h.expectRows(0, 1)
			// Crash after the Commit, twice over.
			for range 2 {
				s := h.open(c2)
				h.close(s)
				h.expectParts(1, 2)
				h.expectRows(0, 1)
			}
		})
	})
}

// The defect this design removes: a restore whose temp file is shorter than
// the restored length (or gone) must fail, never pad the file with NULs.
func TestSinkRestoreRefusesLostTemp(t *testing.T) {
	for _, lose := range []string{"shortened", "removed"} {
		t.Run(lose, func(t *testing.T) {
			h := &harness{t: t, run: "run-1", out: filepath.Join(t.TempDir(), "out.jsonl")}
			s1 := h.open(nil)
			h.write(s1, 0, 1)
			c1 := h.flush(s1, 1, false)
			h.commit(s1, c1)
			// Crash; then the temp file loses data behind ADF's back.
			temps := h.hidden()
			if len(temps) != 1 {
				t.Fatalf("want one temp file, got %v", temps)
			}
			var size int64 = 10
			if lose == "removed" {
				if err := os.Remove(temps[0]); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Truncate(temps[0], size); err != nil {
				t.Fatal(err)
			}

			err := h.newSink().Open(context.Background(), h.init(c1))
			var se *sdk.Error
			if !errors.As(err, &se) || se.Code != sdk.CodeIO || !strings.Contains(se.Summary, "data loss") {
				t.Fatalf("Open over a %s temp file: got %v, want an io error saying data loss", lose, err)
			}
			if st, err := os.Stat(temps[0]); lose == "shortened" && (err != nil || st.Size() != size) {
				t.Fatalf("temp file changed by the refused restore: %v %v", st, err)
			} else if lose == "removed" && err == nil {
				t.Fatal("removed temp file recreated by the refused restore")
			}
			if got := h.published(); got != nil {
				t.Fatalf("output published: %v", got)
			}
		})
	}
}

// A final Commit whose temp file and output are both gone reports data
// loss instead of succeeding.
func TestSinkCommitRefusesLostOutput(t *testing.T) {
	h := &harness{t: t, run: "run-1", out: filepath.Join(t.TempDir(), "out.jsonl")}
	s1 := h.open(nil)
	h.write(s1, 0)
	c1 := h.flush(s1, 1, true)
	for _, f := range h.hidden() {
		os.Remove(f)
	}
	err := s1.(sdk.Committer).Commit(context.Background(), sdk.CommitRequest{CheckpointID: 1, Committables: c1.res.Committables, Final: true})
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeIO {
		t.Fatalf("Commit without temp file or output: got %v, want an io error", err)
	}
}

// A fresh run (no restored checkpoint) drops every pending and in-progress
// part of its run id, and nothing of another flow's run, even one whose id
// extends this one's.
func TestSinkFreshRunDiscardsUnsavedParts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "parts") + "/"
	other := &harness{t: t, dir: true, run: "run-1-b", out: out, flow: "other"}
	o := other.open(nil)
	other.write(o, 7)
	oc1 := other.flush(o, 1, false)
	// The other run crashed too: its pending part 1 waits for its restore.

	h := &harness{t: t, dir: true, run: "run-1", out: out}
	s1 := h.open(nil)
	h.write(s1, 0)
	h.flush(s1, 1, false)
	h.write(s1, 1) // an in-progress part
	if n := len(h.hidden()); n != 3 {
		t.Fatalf("want 3 hidden parts before the restart, got %v", h.hidden())
	}

	s2 := h.open(nil)
	left := h.hidden()
	if len(left) != 1 || !strings.Contains(filepath.Base(left[0]), "run-1-b-000001") {
		t.Fatalf("after a fresh start of run-1 the hidden files are %v, want only run-1-b's pending part", left)
	}
	h.write(s2, 2)
	c := h.flush(s2, 2, true)
	h.commit(s2, c)
	h.close(s2)
	files, _ := filepath.Glob(filepath.Join(out, "part-*"))
	if len(files) != 1 || filepath.Base(files[0]) != "part-run-1-000002.jsonl" {
		t.Fatalf("published %v, want only part-run-1-000002.jsonl", files)
	}
	if got := readJSONL(t, files...); !slices.Equal(got, batchRows(2)) {
		t.Fatalf("published rows %q", got)
	}

	// The other run restores its checkpoint 1 and publishes it.
	o2 := other.open(oc1)
	other.close(o2)
	if got := readJSONL(t, filepath.Join(out, "part-run-1-b-000001.jsonl")); !slices.Equal(got, batchRows(7)) {
		t.Fatalf("run-1-b's part holds %q", got)
	}
}

// Rows written after the last Flush are discarded by Close, and Close
// leaves the flushed temp file intact for a restore.
func TestSinkCloseKeepsFlushedData(t *testing.T) {
	forEachMode(t, func(t *testing.T, h *harness) {
		s1 := h.open(nil)
		h.write(s1, 0)
		c1 := h.flush(s1, 1, false)
		h.commit(s1, c1)
		h.write(s1, 1)
		h.close(s1)

		s2 := h.open(c1)
		c2 := h.flush(s2, 2, true)
		h.commit(s2, c2)
		h.close(s2)
		h.expectRows(0)
	})
}

// A new run's Open removes the hidden files earlier runs of the same flow
// left behind (they can no longer resume), in both modes, and single-file
// temp files named as before the nonce; other flows' files, legacy parts
// without a flow in their names and look-alike names stay.
func TestSinkOpenRemovesStaleFilesOfEarlierRuns(t *testing.T) {
	forEachMode(t, func(t *testing.T, h *harness) {
		old := &harness{t: t, dir: h.dir, csv: h.csv, pq: h.pq, out: h.out, run: "old"}
		s1 := old.open(nil)
		old.write(s1, 0)
		old.flush(s1, 1, false)
		old.write(s1, 1) // directory mode: an in-progress part
		// The old run fails for good without Close (a killed process).
		otherFlow := &harness{t: t, dir: h.dir, csv: h.csv, pq: h.pq, out: h.out, run: "r", flow: "other"}
		o1 := otherFlow.open(nil)
		otherFlow.write(o1, 5)
		otherFlow.flush(o1, 1, false)
		dir := h.outDir()
		var stale, kept []string // besides those of the runs above
		if h.dir {
			kept = []string{".part-legacy-000001.jsonl.pending"}
		} else {
			base := filepath.Base(h.out)
			stale = []string{"." + base + ".flow_x.legacy.tmp"}
			kept = []string{"." + base + ".flow_x.run.x.tmp", ".other" + base + ".flow_x.r.tmp", "." + base + ".flow_x.r.0123456789abcdeg.tmp"}
		}
		for _, name := range append(slices.Clone(stale), kept...) {
			writeFile(t, filepath.Join(dir, name), "x")
		}
		var want []string
		for _, p := range h.hidden() {
			name := filepath.Base(p)
			if !slices.Contains(stale, name) && !strings.Contains(name, "old") {
				want = append(want, p)
			}
		}
		// The old run's files: its temp file (and, Parquet, the segment of
		// checkpoint 1), or its pending and in-progress parts.
		oldFiles := map[bool]int{true: 2, false: 1}[h.dir]
		if h.pq && !h.dir {
			oldFiles = 2
		}
		if n := len(h.hidden()) - len(want); n != len(stale)+oldFiles {
			t.Fatalf("the old run left %v", h.hidden())
		}
		s2 := h.open(nil) // run-1 of flow/x, fresh
		got := slices.DeleteFunc(h.hidden(), func(p string) bool { return strings.Contains(p, ".flow_x.run-1.") })
		if !slices.Equal(got, want) {
			t.Fatalf("hidden files after a new run's Open:\n%q\nwant\n%q", got, want)
		}
		h.write(s2, 2)
		c := h.flush(s2, 1, true)
		h.commit(s2, c)
		h.close(s2)
		var rows []string
		for _, f := range h.published() {
			if h.pq {
				rows = append(rows, readParquetRows(t, f)...)
			} else if h.csv {
				data, _ := os.ReadFile(f)
				rows = append(rows, csvRows(t, data)...)
			} else {
				rows = append(rows, readJSONL(t, f)...)
			}
		}
		if !slices.Equal(rows, batchRows(2)) {
			t.Fatalf("published %q", rows)
		}
	})
}

// Close removes the temp file of a sink that started its run afresh and
// never flushed (no checkpoint can name it), and keeps one a checkpoint
// may name.
func TestSinkCloseRemovesUnflushedTemp(t *testing.T) {
	for _, flushed := range []bool{false, true} {
		t.Run(fmt.Sprintf("flushed=%v", flushed), func(t *testing.T) {
			h := &harness{t: t, run: "run-1", out: filepath.Join(t.TempDir(), "out.jsonl")}
			s := h.open(nil)
			h.write(s, 0)
			if flushed {
				h.flush(s, 1, false)
				h.write(s, 1)
			}
			if n := len(h.hidden()); n != 1 {
				t.Fatalf("hidden files before Close: %v", h.hidden())
			}
			h.close(s)
			left := h.hidden()
			if flushed && (len(left) != 1 || fileSize(t, left[0]) != int64(len(strings.Join(jsonLines(0), "")))) {
				t.Fatalf("flushed temp file after Close: %v", left)
			}
			if !flushed && len(left) != 0 {
				t.Fatalf("unflushed temp file left after Close: %v", left)
			}
			if h.published() != nil {
				t.Fatalf("published: %v", h.published())
			}
		})
	}
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// jsonLines is batch i as the JSON-lines sink writes it.
func jsonLines(i int) []string {
	var out []string
	for j := 0; j < rowsPerBatch; j++ {
		id := i*rowsPerBatch + j
		out = append(out, fmt.Sprintf("{\"id\":%d,\"name\":\"name %d\"}\n", id, id))
	}
	return out
}

// The sink creates the directory the output goes into when its parent
// exists, and no more: a missing parent is not_found naming it, a file in
// the way is a config error; nothing is created then.
func TestSinkOutputDirectory(t *testing.T) {
	base := t.TempDir()
	writeFile(t, filepath.Join(base, "file"), "x")
	tests := []struct {
		path, code, summary string
		created             string
	}{
		{path: filepath.Join(base, "new", "out.jsonl"), created: filepath.Join(base, "new")},
		{path: filepath.Join(base, "parts") + "/", created: filepath.Join(base, "parts")},
		{path: filepath.Join(base, "a", "b", "out.jsonl"), code: sdk.CodeNotFound,
			summary: fmt.Sprintf("output directory %s does not exist, and neither does its parent %s", filepath.Join(base, "a", "b"), filepath.Join(base, "a"))},
		{path: filepath.Join(base, "x", "parts") + "/", code: sdk.CodeNotFound,
			summary: fmt.Sprintf("output directory %s does not exist, and neither does its parent %s", filepath.Join(base, "x", "parts"), filepath.Join(base, "x"))},
		{path: filepath.Join(base, "file", "out.jsonl"), code: sdk.CodeInvalidConfig, summary: filepath.Join(base, "file") + " is not a directory"},
	}
	for _, tc := range tests {
		s, err := component(t, sdk.KindSink).NewSinkFromConfig([]byte(fmt.Sprintf(`{"path": %q}`, tc.path)))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Open(context.Background(), sdk.SinkInit{Flow: "f", RunID: "r"})
		var se *sdk.Error
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			} else if st, err := os.Stat(tc.created); err != nil || !st.IsDir() {
				t.Errorf("%s: %s not created: %v", tc.path, tc.created, err)
			}
			_ = s.Close(context.Background())
			continue
		}
		if !errors.As(err, &se) || se.Code != tc.code || se.Field != "path" || se.Summary != tc.summary {
			t.Errorf("%s: got %#v, want %s %q", tc.path, err, tc.code, tc.summary)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "a")); !os.IsNotExist(err) {
		t.Errorf("a refused Open created %s: %v", filepath.Join(base, "a"), err)
	}
}

// A checkpoint of a version before the temp file's nonce restores: with
// the file's name in its state, or without it (the name every attempt of
// the run used then).
func TestSinkRestoresLegacyTempName(t *testing.T) {
	for _, named := range []bool{true, false} {
		t.Run(fmt.Sprintf("named=%v", named), func(t *testing.T) {
			h := &harness{t: t, run: "run-1", out: filepath.Join(t.TempDir(), "out.jsonl")}
			temp := filepath.Join(filepath.Dir(h.out), ".out.jsonl.flow_x.run-1.tmp")
			content := strings.Join(jsonLines(0), "")
			writeFile(t, temp, content+`{"id":-1,"name":"after the checkpoint"}`+"\n")
			state := fmt.Sprintf(`{"checkpoint_id":1,"committed":%d}`, len(content))
			if named {
				state = fmt.Sprintf(`{"checkpoint_id":1,"temp":%q,"committed":%d}`, temp, len(content))
			}
			s := h.open(&checkpoint{id: 1, res: sdk.FlushResult{State: []byte(state)}})
			h.write(s, 1)
			c := h.flush(s, 2, true)
			h.commit(s, c)
			h.close(s)
			h.expectRows(0, 1)
		})
	}
}

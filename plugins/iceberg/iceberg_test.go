package iceberg_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/iceberg"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/sdktest"
)

// sinkState mirrors the sink's FlushResult.State.
type sinkState struct {
	CheckpointID int64 `json:"checkpoint_id"`
	SnapshotID   int64 `json:"snapshot_id"`
}

func TestSinkConformance(t *testing.T) {
	w := newWarehouse(t)
	sdktest.TestSink(t, component(sdk.KindSink), sdktest.SinkOptions{
		Config:   w.config("db.conf", nil),
		ReadBack: func(t *testing.T) []string { return w.readRows(t, "db.conf") },
	})
}

// batch builds rows [from, from+n) of (id int64, name string).
func batch(from, n int) arrow.RecordBatch {
	ids := array.NewInt64Builder(memory.DefaultAllocator)
	names := array.NewStringBuilder(memory.DefaultAllocator)
	defer ids.Release()
	defer names.Release()
	for i := from; i < from+n; i++ {
		ids.Append(int64(i))
		names.Append(fmt.Sprintf("name %d", i))
	}
	a, b := ids.NewArray(), names.NewArray()
	defer a.Release()
	defer b.Release()
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	return array.NewRecordBatch(sc, []arrow.Array{a, b}, int64(n))
}

func rowsOf(from, n int) []string {
	out := make([]string, 0, n)
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("%d\x1fname %d", i, i))
	}
	return out
}

// A checkpoint committed to the table but never made durable by the host
// (the attempt died between the commit and the host's persist): the next
// attempt restores the previous checkpoint, replays the rows, and reuses the
// checkpoint id for different rows. The sink removes the undurable commit at
// Open, so every row is in the table once.
func TestUndurableCheckpointIsReverted(t *testing.T) {
	undurableCheckpointIsReverted(t, newWarehouse(t), "db.undurable")
}

// undurableCheckpointIsReverted runs that scenario on table tbl of w's
// catalog (SQLite here, REST in TestRESTCatalog).
func undurableCheckpointIsReverted(t *testing.T, w *warehouse, tbl string) {
	ctx := context.Background()
	c := component(sdk.KindSink)
	cfg := w.config(tbl, nil)
	newSink := func() sdk.Sink {
		s, err := c.NewSinkFromConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	write := func(s sdk.Sink, from, n int) {
		rec := batch(from, n)
		defer rec.Release()
		if err := s.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	s1 := newSink()
	if err := s1.Open(ctx, sdk.SinkInit{Flow: "f", RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	write(s1, 0, 100)
	res1, err := s1.Flush(ctx, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	write(s1, 100, 100)
	if _, err := s1.Flush(ctx, 2, false); err != nil { // committed, never persisted
		t.Fatal(err)
	}
	write(s1, 200, 50) // never flushed
	s1.Close(ctx)
	if got := len(w.readRows(t, tbl)); got != 200 {
		t.Fatalf("before the restart the table holds %d rows, want 200", got)
	}

	// Attempt 2 restores checkpoint 1; checkpoint 2 now covers rows 100..300.
	s2 := newSink()
	if err := s2.Open(ctx, sdk.SinkInit{Flow: "f", RunID: "r1", RestoredState: res1.State}); err != nil {
		t.Fatal(err)
	}
	write(s2, 100, 200)
	if _, err := s2.Flush(ctx, 2, true); err != nil {
		t.Fatal(err)
	}
	s2.Close(ctx)
	testkit.SameRows(t, w.readRows(t, tbl), rowsOf(0, 300))

	// Another flow's and another run's snapshots are never touched.
	s3 := newSink()
	if err := s3.Open(ctx, sdk.SinkInit{Flow: "f", RunID: "r2"}); err != nil {
		t.Fatal(err)
	}
	write(s3, 300, 10)
	if _, err := s3.Flush(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	s3.Close(ctx)
	testkit.SameRows(t, w.readRows(t, tbl), rowsOf(0, 310))

	// An incremental reader whose cursor is at checkpoint 1 reads the rows
	// of the new checkpoint 2 and the other run, never the reverted commit.
	cursorFile := filepath.Join(strings.TrimPrefix(w.wh, "file://"), "adf", "cursors", tbl, "c.json")
	if err := os.MkdirAll(filepath.Dir(cursorFile), 0o755); err != nil {
		t.Fatal(err)
	}
	var cp1 sinkState
	if err := json.Unmarshal(res1.State, &cp1); err != nil || cp1.SnapshotID == 0 {
		t.Fatalf("state of checkpoint 1 %s: %v", res1.State, err)
	}
	if err := os.WriteFile(cursorFile, []byte(fmt.Sprintf(`{"snapshot_id": %d}`, cp1.SnapshotID)), 0o644); err != nil {
		t.Fatal(err)
	}
	sdktest.TestSource(t, component(sdk.KindSource), sdktest.SourceOptions{
		Config: w.config(tbl, map[string]any{"mode": "incremental", "cursor": "c"}), ExpectRows: 210,
	})

	tb, closeCat := w.open(t, tbl)
	defer closeCat()
	var reverted int
	for _, s := range tb.Metadata().Snapshots() {
		if s.Summary != nil && s.Summary.Properties[iceberg.SummaryReverted] == "2" {
			reverted++
		}
	}
	if reverted != 1 {
		t.Fatalf("want one snapshot reverting checkpoint 2, found %d", reverted)
	}
}

func TestSourceConformance(t *testing.T) {
	ctx := context.Background()
	w := newWarehouse(t)
	s, err := component(sdk.KindSink).NewSinkFromConfig(w.config("db.src", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx, sdk.SinkInit{Flow: "f", RunID: "r"}); err != nil {
		t.Fatal(err)
	}
	// Three checkpoints: three data files, so three splits.
	for cp := 0; cp < 3; cp++ {
		rec := batch(cp*10000, 10000)
		if err := s.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if _, err := s.Flush(ctx, int64(cp+1), cp == 2); err != nil {
			t.Fatal(err)
		}
	}
	s.Close(ctx)
	sdktest.TestSource(t, component(sdk.KindSource), sdktest.SourceOptions{
		Config: w.config("db.src", map[string]any{"batch_size": 1000}), ExpectRows: 30000,
	})
	sdktest.TestSource(t, component(sdk.KindSource), sdktest.SourceOptions{
		Config: w.config("db.src", map[string]any{"columns": []string{"id"}, "filter": "id >= 5000 and id < 25000 and name != 'name 7000'"}), ExpectRows: 19999,
	})
}

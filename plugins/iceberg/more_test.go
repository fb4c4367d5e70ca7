package iceberg_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/sdktest"
)

// writeAndFlush opens a sink, writes the batches, flushes and commits them
// as one checkpoint and closes.
func writeAndFlush(t *testing.T, cfg []byte, run string, recs ...arrow.RecordBatch) error {
	t.Helper()
	ctx := context.Background()
	s, err := component(sdk.KindSink).NewSinkFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if err := s.Open(ctx, sdk.SinkInit{Flow: "t", RunID: run}); err != nil {
		return err
	}
	for _, r := range recs {
		err := s.Write(ctx, r)
		r.Release()
		if err != nil {
			return err
		}
	}
	res, err := s.Flush(ctx, 1, true)
	if err != nil {
		return err
	}
	return s.(sdk.Committer).Commit(ctx, sdk.CommitRequest{CheckpointID: 1, Committables: res.Committables, Final: true})
}

// withScore is batch plus a nullable float64 column "score".
func withScore(from, n int) arrow.RecordBatch {
	b := batch(from, n)
	defer b.Release()
	sb := array.NewFloat64Builder(memory.DefaultAllocator)
	defer sb.Release()
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			sb.AppendNull()
		} else {
			sb.Append(float64(from+i) / 2)
		}
	}
	sc := sb.NewArray()
	defer sc.Release()
	fields := append(b.Schema().Fields(), arrow.Field{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), []arrow.Array{b.Column(0), b.Column(1), sc}, int64(n))
}

func TestSchemaEvolution(t *testing.T) {
	w := newWarehouse(t)
	if err := writeAndFlush(t, w.config("db.evo", nil), "r1", batch(0, 10)); err != nil {
		t.Fatal(err)
	}
	// A new column without evolve_schema: a clear error naming it.
	err := writeAndFlush(t, w.config("db.evo", nil), "r2", withScore(10, 10))
	var se *sdk.Error
	if !errors.As(err, &se) || se.Field != "evolve_schema" || !strings.Contains(se.Summary, "score (float64)") {
		t.Fatalf("want an evolve_schema error naming score, got %v", err)
	}
	// With evolve_schema the column is added; old rows read it as null.
	if err := writeAndFlush(t, w.config("db.evo", map[string]any{"evolve_schema": true}), "r3", withScore(10, 10)); err != nil {
		t.Fatal(err)
	}
	tb, closeCat := w.open(t, "db.evo")
	defer closeCat()
	if f, ok := tb.Schema().FindFieldByName("score"); !ok || f.Required {
		t.Fatalf("score not added as an optional column: %v", tb.Schema())
	}
	rows := w.readRows(t, "db.evo")
	want := []string{}
	for i := 0; i < 10; i++ {
		want = append(want, fmt.Sprintf("%d\x1fname %d\x1f\x00null", i, i))
	}
	for i := 10; i < 20; i++ {
		s := "\x00null"
		if (i-10)%2 == 1 {
			s = fmt.Sprint(float64(i) / 2)
		}
		want = append(want, fmt.Sprintf("%d\x1fname %d\x1f%s", i, i, s))
	}
	testkit.SameRows(t, rows, want)
	// Data lacking an optional column is fine (it reads as null).
	if err := writeAndFlush(t, w.config("db.evo", nil), "r4", batch(20, 5)); err != nil {
		t.Fatal(err)
	}
	if got := len(w.readRows(t, "db.evo")); got != 25 {
		t.Fatalf("table holds %d rows, want 25", got)
	}
}

// tsBatch is (id, ts) with ts on day d of January 2026.
func tsBatch(from, n, day int) arrow.RecordBatch {
	ids := array.NewInt64Builder(memory.DefaultAllocator)
	tsb := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	defer ids.Release()
	defer tsb.Release()
	base := time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC)
	for i := from; i < from+n; i++ {
		ids.Append(int64(i))
		tsb.Append(arrow.Timestamp(base.Add(time.Duration(i) * time.Second).UnixMicro()))
	}
	a, b := ids.NewArray(), tsb.NewArray()
	defer a.Release()
	defer b.Release()
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "ts", Type: b.DataType(), Nullable: true}}, nil)
	return array.NewRecordBatch(sc, []arrow.Array{a, b}, int64(n))
}

// A partitioned table (partition_by from config), read back at an older
// snapshot (snapshot_id, as_of) and with a filter that prunes partitions.
func TestPartitionedTableAndTimeTravel(t *testing.T) {
	w := newWarehouse(t)
	cfg := w.config("db.parts", map[string]any{"partition_by": []string{"day(ts)", "bucket(4, id)"}})
	if err := writeAndFlush(t, cfg, "r1", tsBatch(0, 1000, 1), tsBatch(1000, 1000, 2)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	tb, closeCat := w.open(t, "db.parts")
	first := tb.CurrentSnapshot()
	if spec := tb.Spec(); spec.NumFields() != 2 {
		t.Fatalf("partition spec %v, want day(ts) and bucket(4, id)", spec)
	}
	closeCat()
	asOf := time.UnixMilli(first.TimestampMs).Add(5 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	time.Sleep(20 * time.Millisecond)
	if err := writeAndFlush(t, cfg, "r2", tsBatch(2000, 500, 3)); err != nil {
		t.Fatal(err)
	}
	src := component(sdk.KindSource)
	sdktest.TestSource(t, src, sdktest.SourceOptions{Config: w.config("db.parts", nil), ExpectRows: 2500})
	sdktest.TestSource(t, src, sdktest.SourceOptions{Config: w.config("db.parts", map[string]any{"snapshot_id": first.SnapshotID}), ExpectRows: 2000})
	sdktest.TestSource(t, src, sdktest.SourceOptions{Config: w.config("db.parts", map[string]any{"as_of": asOf}), ExpectRows: 2000})
	sdktest.TestSource(t, src, sdktest.SourceOptions{Config: w.config("db.parts", map[string]any{"filter": "ts >= '2026-01-02T00:00:00+00:00'"}), ExpectRows: 1500})
}

// The SQL catalog on PostgreSQL (a real server from scripts/services.sh):
// sink conformance, read back with iceberg-go, and source conformance.
func TestPostgresCatalog(t *testing.T) {
	w := &warehouse{dir: t.TempDir(), uri: testkit.NewDatabase(t)}
	w.wh = "file://" + filepath.Join(w.dir, "warehouse")
	sdktest.TestSink(t, component(sdk.KindSink), sdktest.SinkOptions{
		Config:   w.config("pg.t", nil),
		ReadBack: func(t *testing.T) []string { return w.readRows(t, "pg.t") },
	})
	// The source reads whatever TestSink's scenarios left in the table.
	sdktest.TestSource(t, component(sdk.KindSource), sdktest.SourceOptions{Config: w.config("pg.t", nil), ExpectRows: int64(len(w.readRows(t, "pg.t")))})
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		kind  sdk.Kind
		cfg   string
		field string
	}{
		{sdk.KindSink, `{"catalog_uri": "mysql://x", "warehouse": "file:///tmp/w", "table": "a.b"}`, "catalog_uri"},
		{sdk.KindSink, `{"catalog_uri": "sqlite:///tmp/c.db", "warehouse": "/tmp/w", "table": "a.b"}`, "warehouse"},
		{sdk.KindSink, `{"catalog_uri": "sqlite:///tmp/c.db", "warehouse": "file:///tmp/w", "table": "ab"}`, "table"},
		{sdk.KindSink, `{"catalog_uri": "sqlite:///tmp/c.db", "warehouse": "file:///tmp/w", "table": "a.b", "partition_by": ["bucket(id)"]}`, "partition_by[0]"},
		{sdk.KindSink, `{"catalog_uri": "sqlite:///tmp/c.db", "warehouse": "file:///tmp/w", "table": "a.b", "tabel": "x"}`, "tabel"},
		{sdk.KindSource, `{"catalog_uri": "sqlite:///tmp/c.db", "warehouse": "file:///tmp/w", "table": "a.b", "mode": "incremental"}`, "cursor"},
		{sdk.KindSource, `{"catalog_uri": "sqlite:///tmp/c.db", "warehouse": "file:///tmp/w", "table": "a.b", "filter": "id >"}`, "filter"},
		{sdk.KindSource, `{"catalog_uri": "sqlite:///tmp/c.db", "warehouse": "file:///tmp/w", "table": "a.b", "as_of": "yesterday"}`, "as_of"},
		{sdk.KindSource, `{"catalog_uri": "sqlite:///tmp/c.db", "warehouse": "file:///tmp/w", "table": "a.b", "mode": "all"}`, "mode"},
	} {
		_, err := component(tc.kind).DecodeConfig([]byte(tc.cfg))
		found := false
		for _, e := range sdk.AsErrors(err) {
			if e.Field == tc.field {
				found = true
			}
		}
		if !found {
			t.Errorf("%s %s: want an error on %q, got %v", tc.kind, tc.cfg, tc.field, err)
		}
	}
}

// Close deletes the data files written after the last flush: once the
// flushed checkpoint is committed, nothing is left in the warehouse that no
// snapshot references.
func TestCloseLeavesNoUncommittedFiles(t *testing.T) {
	ctx := context.Background()
	w := newWarehouse(t)
	s, err := component(sdk.KindSink).NewSinkFromConfig(w.config("db.clean", map[string]any{"partition_by": []string{"bucket(8, id)"}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx, sdk.SinkInit{Flow: "f", RunID: "r"}); err != nil {
		t.Fatal(err)
	}
	for i, cp := range []bool{true, false} {
		rec := batch(i*1000, 1000)
		if err := s.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if cp {
			flushAndCommit(t, s, 1, false)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tb, closeCat := w.open(t, "db.clean")
	defer closeCat()
	tasks, err := tb.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{}
	for _, task := range tasks {
		live[strings.TrimPrefix(task.File.FilePath(), "file://")] = true
	}
	var onDisk []string
	filepath.WalkDir(strings.TrimPrefix(w.wh, "file://"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			onDisk = append(onDisk, p)
		}
		return nil
	})
	if len(onDisk) != len(live) || len(live) == 0 {
		t.Fatalf("%d data files on disk, %d referenced by the table (%v)", len(onDisk), len(live), onDisk)
	}
	for _, p := range onDisk {
		if !live[p] {
			t.Fatalf("uncommitted data file left behind: %s", p)
		}
	}
	if got := len(w.readRows(t, "db.clean")); got != 1000 {
		t.Fatalf("table holds %d rows, want 1000", got)
	}
}

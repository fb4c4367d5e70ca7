package format

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// writeIDsParquet writes ids [0, n) in batches of 1000 with the given row
// group size.
func writeIDsParquet(t *testing.T, path string, n int, rowGroup int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewParquetWriter(f, ParquetOptions{RowGroupSize: rowGroup})
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	for start := 0; start < n; start += 1000 {
		b := array.NewInt64Builder(memory.DefaultAllocator)
		for i := start; i < min(start+1000, n); i++ {
			b.Append(int64(i))
		}
		col := b.NewArray()
		rec := array.NewRecordBatch(sc, []arrow.Array{col}, int64(col.Len()))
		if _, err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		col.Release()
		b.Release()
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestParquetReaderBatchesAndResume: batches hold at most batch_size rows
// and never span row groups; a reader re-created at any Position goes on
// with exactly the next row.
func TestParquetReaderBatchesAndResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ids.parquet")
	writeIDsParquet(t, path, 10500, 2500) // row groups of 2500, 2500, 2500, 2500, 500
	info, err := ReadParquetInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.RowGroupRows) != 5 || info.RowGroupRows[4] != 500 {
		t.Fatalf("row groups %v", info.RowGroupRows)
	}
	// Rows of row groups 1..4 (ids 2500 on), resumed after every batch.
	rg, row, next := 1, int64(0), int64(2500)
	for {
		r, err := NewParquetReader(path, rg, 5, row, 700, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec, _, err := r.Next()
		if err == io.EOF {
			r.(io.Closer).Close()
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() > 700 {
			t.Fatalf("batch of %d rows, batch size 700", rec.NumRows())
		}
		ids := rec.Column(0).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			if ids.Value(i) != next {
				t.Fatalf("row group %d row %d: id %d, want %d", rg, row, ids.Value(i), next)
			}
			next++
		}
		// A batch never crosses a row group's end.
		if first, last := ids.Value(0), ids.Value(ids.Len()-1); first/2500 != last/2500 {
			t.Fatalf("batch spans row groups: ids %d..%d", first, last)
		}
		rec.Release()
		g, n := r.Position()
		r.(io.Closer).Close()
		rg, row = int(g), n
	}
	if next != 10500 {
		t.Fatalf("read up to id %d, want 10500", next)
	}
}

package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/csv"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/internal/testkit"
)

// BenchmarkCSVToJSONLines measures a CSV → JSON-lines flow through the file
// plugin (source and sink as separate processes, 4 readers) against
// arrow-go's in-process CSV reader parsing the same file, in the same run,
// and reports both rates and their ratio:
//
//	go test -run '^$' -bench CSVToJSONLines -benchtime 3x ./host/engine/
func BenchmarkCSVToJSONLines(b *testing.B) {
	const rows = 1_000_000
	dir := b.TempDir()
	in := filepath.Join(dir, "orders.csv")
	writeOrders(b, in, rows)
	reg := newRegistry(b, testkit.FilePlugin)
	schema := testkit.OrdersArrowSchema()
	var pluginTime, arrowTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, fmt.Sprintf("out-%d.jsonl", i))
		start := time.Now()
		res, err := engine.New(engine.Options{Registry: reg, DataDir: dir}).Run(context.Background(), csvToJSONL("bench", in, out, 4), fmt.Sprintf("bench-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		pluginTime += time.Since(start)
		if res.Stats.RowsWritten != rows {
			b.Fatalf("wrote %d rows, want %d", res.Stats.RowsWritten, rows)
		}
		os.Remove(out)

		start = time.Now()
		n := arrowParse(b, in, schema)
		arrowTime += time.Since(start)
		if n != rows {
			b.Fatalf("arrow parsed %d rows, want %d", n, rows)
		}
	}
	pluginRate := float64(rows*b.N) / pluginTime.Seconds()
	arrowRate := float64(rows*b.N) / arrowTime.Seconds()
	b.ReportMetric(pluginRate, "adf_rows/s")
	b.ReportMetric(arrowRate, "arrow_csv_rows/s")
	b.ReportMetric(pluginRate/arrowRate, "ratio")
	b.Logf("CSV → JSON-lines via plugins: %.0f rows/s; arrow-go in-process CSV parse: %.0f rows/s; ratio %.2f", pluginRate, arrowRate, pluginRate/arrowRate)
}

// arrowParse reads the file with arrow-go's CSV reader and counts rows.
func arrowParse(b *testing.B, path string, schema *arrow.Schema) int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f, schema, csv.WithHeader(true), csv.WithChunk(8192))
	defer r.Release()
	var n int64
	for r.Next() {
		n += r.RecordBatch().NumRows()
	}
	if err := r.Err(); err != nil && err != io.EOF {
		b.Fatal(err)
	}
	return n
}

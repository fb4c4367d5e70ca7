package iceberg_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/activedataflow/adf/internal/testkit"
)

// BenchmarkCSVToIcebergVsParquet measures, in one run on the same input,
// rows/s of the flow CSV → Iceberg (a whole `adf run` process, end to end as
// a user runs it: the file source and iceberg sink as its plugin processes,
// SQLite catalog, local warehouse, parallelism 2) against the raw tool:
// arrow-go's CSV reader feeding pqarrow writing one Parquet file (zstd, like
// Iceberg's default), in process. It reports both rates and their ratio.
//
//	go test -run '^$' -bench CSVToIceberg -benchtime 3x ./plugins/iceberg/
func BenchmarkCSVToIcebergVsParquet(b *testing.B) {
	const n = 1_000_000
	w := newWarehouse(b)
	in := filepath.Join(w.dir, "orders.csv")
	testkit.WriteOrdersCSV(b, in, 1, n)
	a := newADF(b)
	schema := testkit.OrdersArrowSchema()
	var iceberg, raw time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		f := csvToIceberg("bench", in, w, fmt.Sprintf("bench.t%d", i), 2)
		s, _ := a.RunFlow(b, f.Name, flowDoc(b, f))
		if s.Status != "success" || s.Written != n {
			b.Fatalf("adf run: %+v, want success and %d rows written", s, n)
		}
		iceberg += time.Since(start)

		start = time.Now()
		if got := csvToParquet(b, in, filepath.Join(w.dir, fmt.Sprintf("raw%d.parquet", i)), schema); got != n {
			b.Fatalf("raw wrote %d rows, want %d", got, n)
		}
		raw += time.Since(start)
	}
	b.StopTimer()
	icebergRate := float64(n*b.N) / iceberg.Seconds()
	rawRate := float64(n*b.N) / raw.Seconds()
	b.ReportMetric(icebergRate, "iceberg-rows/s")
	b.ReportMetric(rawRate, "pqarrow-rows/s")
	b.ReportMetric(icebergRate/rawRate, "ratio")
	fmt.Printf("CSV→Iceberg %.0f rows/s, CSV→Parquet (pqarrow) %.0f rows/s, ratio %.2f\n", icebergRate, rawRate, icebergRate/rawRate)
}

// csvToParquet is the raw tool: arrow-go CSV reader → pqarrow file writer.
func csvToParquet(b *testing.B, in, out string, schema *arrow.Schema) int64 {
	f, err := os.Open(in)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f, schema, csv.WithHeader(true), csv.WithChunk(8192))
	defer r.Release()
	o, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	pw, err := pqarrow.NewFileWriter(schema, o, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd)), pqarrow.DefaultWriterProps())
	if err != nil {
		b.Fatal(err)
	}
	var rows int64
	for r.Next() {
		rec := r.RecordBatch()
		if err := pw.Write(rec); err != nil {
			b.Fatal(err)
		}
		rows += rec.NumRows()
	}
	if err := r.Err(); err != nil {
		b.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		b.Fatal(err)
	}
	return rows
}

package format

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

const benchRows = 1_000_000

// benchFile writes benchRows rows of testSchema with the given writer
// constructor and returns the open file.
func benchFile(b *testing.B, newWriter func(io.Writer) Writer) (*os.File, int64) {
	b.Helper()
	p := filepath.Join(b.TempDir(), "bench")
	out, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	w := newWriter(bw)
	mem := memory.NewGoAllocator()
	for done := 0; done < benchRows; done += 100_000 {
		recs := genRecords(b, mem, 100_000, uint64(done), false)
		for _, r := range recs {
			if _, err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		releaseAll(recs)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	return openFile(b, p)
}

// readRange reads one range to the end and returns the number of rows.
func readRange(b *testing.B, r RecordReader) int64 {
	var rows int64
	for {
		rec, rej, err := r.Next()
		if len(rej) > 0 {
			b.Fatalf("unexpected reject: %+v", rej[0])
		}
		if rec != nil {
			rows += rec.NumRows()
			rec.Release()
		}
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCSVRead reads a 1M-row CSV file (int64, string with quotes and
// commas, float64, timestamp) in one range on one goroutine.
func BenchmarkCSVRead(b *testing.B) {
	f, size := benchFile(b, func(w io.Writer) Writer { return NewCSVWriter(w, ',', true) })
	opts := CSVOptions{Header: true}
	mem := memory.NewGoAllocator()
	b.SetBytes(size)
	b.ResetTimer()
	var rows int64
	for b.Loop() {
		ranges, err := PlanCSVRanges(f, size, 0, opts)
		if err != nil {
			b.Fatal(err)
		}
		rg := ranges[0]
		r, err := NewCSVReader(f, rg, rg.Start, rg.StartLine, testSchema, opts, DefaultBatchSize, mem)
		if err != nil {
			b.Fatal(err)
		}
		if n := readRange(b, r); n != benchRows {
			b.Fatalf("read %d rows, want %d", n, benchRows)
		}
		rows += benchRows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCSVReadLineBreaks is BenchmarkCSVRead on a file where every
// seventh row has a quoted field with line breaks.
func BenchmarkCSVReadLineBreaks(b *testing.B) {
	f, size := benchFileLineBreaks(b)
	opts := CSVOptions{Header: true}
	mem := memory.NewGoAllocator()
	b.SetBytes(size)
	b.ResetTimer()
	var rows int64
	for b.Loop() {
		r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, testSchema, opts, DefaultBatchSize, mem)
		if err != nil {
			b.Fatal(err)
		}
		if n := readRange(b, r); n != benchRows {
			b.Fatalf("read %d rows, want %d", n, benchRows)
		}
		rows += benchRows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func benchFileLineBreaks(b *testing.B) (*os.File, int64) {
	b.Helper()
	p := filepath.Join(b.TempDir(), "bench")
	out, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	w := NewCSVWriter(bw, ',', true)
	mem := memory.NewGoAllocator()
	for done := 0; done < benchRows; done += 100_000 {
		recs := genRecords(b, mem, 100_000, uint64(done), true)
		for _, r := range recs {
			if _, err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		releaseAll(recs)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	return openFile(b, p)
}

// BenchmarkJSONLinesRead reads a 1M-row JSON-lines file.
func BenchmarkJSONLinesRead(b *testing.B) {
	f, size := benchFile(b, NewJSONLinesWriter)
	mem := memory.NewGoAllocator()
	b.SetBytes(size)
	b.ResetTimer()
	var rows int64
	for b.Loop() {
		r, err := NewJSONLinesReader(f, Range{0, size, 1}, 0, 1, testSchema, DefaultBatchSize, mem)
		if err != nil {
			b.Fatal(err)
		}
		if n := readRange(b, r); n != benchRows {
			b.Fatalf("read %d rows, want %d", n, benchRows)
		}
		rows += benchRows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPlanRanges plans 4 MiB ranges over a 1M-row JSON-lines file.
func BenchmarkPlanRanges(b *testing.B) {
	f, size := benchFile(b, NewJSONLinesWriter)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		if _, err := PlanRanges(f, size, 4<<20, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanCSVRanges plans 4 MiB ranges over a 1M-row CSV file.
func BenchmarkPlanCSVRanges(b *testing.B) {
	f, size := benchFile(b, func(w io.Writer) Writer { return NewCSVWriter(w, ',', true) })
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		if _, err := PlanCSVRanges(f, size, 4<<20, CSVOptions{Header: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCSVWrite writes 1M rows as CSV.
func BenchmarkCSVWrite(b *testing.B) {
	mem := memory.NewGoAllocator()
	recs := genRecords(b, mem, 100_000, 1, false)
	defer releaseAll(recs)
	b.ResetTimer()
	var rows int64
	for b.Loop() {
		w := NewCSVWriter(io.Discard, ',', true)
		for _, r := range recs {
			if _, err := w.Write(r); err != nil {
				b.Fatal(err)
			}
			rows += r.NumRows()
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkJSONLinesWrite writes 100k rows as JSON lines.
func BenchmarkJSONLinesWrite(b *testing.B) {
	mem := memory.NewGoAllocator()
	recs := genRecords(b, mem, 100_000, 1, false)
	defer releaseAll(recs)
	b.ResetTimer()
	var rows int64
	for b.Loop() {
		w := NewJSONLinesWriter(io.Discard)
		for _, r := range recs {
			if _, err := w.Write(r); err != nil {
				b.Fatal(err)
			}
			rows += r.NumRows()
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

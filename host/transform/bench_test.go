package transform

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const benchRows = 64 * 1024

func benchRecord(mem memory.Allocator) arrow.Record {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "total", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	names := b.Field(1).(*array.StringBuilder)
	totals := b.Field(2).(*array.Float64Builder)
	for i := 0; i < benchRows; i++ {
		ids.Append(int64(i))
		if i%7 == 0 {
			names.Append("x")
		} else {
			names.Append(fmt.Sprintf("name-%d", i%100))
		}
		totals.Append(float64(i % 20))
	}
	return b.NewRecordBatch()
}

// BenchmarkFilter measures the filter transform over a 64k-row batch.
func BenchmarkFilter(b *testing.B) {
	ctx, mem := checkedCtx(b)
	rec := benchRecord(mem)
	defer rec.Release()
	tr := mustNew(b, "filter", `{"expr":"total > 10 && name != 'x'"}`)

	b.ReportAllocs()
	b.ResetTimer()
	kept := int64(0)
	for i := 0; i < b.N; i++ {
		out, rowErrs, err := tr.Apply(ctx, rec)
		if err != nil || len(rowErrs) != 0 {
			b.Fatal(err, rowErrs)
		}
		kept = out.NumRows()
		out.Release()
	}
	b.StopTimer()
	if kept == 0 || kept == benchRows {
		b.Fatalf("kept %d rows", kept)
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCastString measures string -> float64 casting over a 64k-row batch.
func BenchmarkCastString(b *testing.B) {
	ctx, mem := checkedCtx(b)
	rec := benchRecord(mem)
	defer rec.Release()
	tr := mustNew(b, "cast", `{"columns":{"id":"string","total":"string"}}`)
	back := mustNew(b, "cast", `{"columns":{"id":"int64","total":"float64"}}`)
	strs, _, err := tr.Apply(ctx, rec)
	if err != nil {
		b.Fatal(err)
	}
	defer strs.Release()

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, rowErrs, err := back.Apply(context.WithoutCancel(ctx), strs)
		if err != nil || len(rowErrs) != 0 {
			b.Fatal(err, rowErrs)
		}
		out.Release()
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

package sql

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkEncode measures the Arrow -> binary COPY encoding of the sink
// (rows of id, name, amount, ts) without PostgreSQL.
func BenchmarkEncode(b *testing.B) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	const n = 8192
	for i := 0; i < n; i++ {
		rb.Field(0).(*array.Int64Builder).Append(int64(i))
		rb.Field(1).(*array.StringBuilder).Append("smith, jr")
		rb.Field(2).(*array.Float64Builder).Append(float64(i) / 100)
		rb.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * 1e6))
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	cols := []column{{"id", oidInt8, "bigint"}, {"name", oidText, "text"}, {"amount", oidFloat8, "double precision"}, {"ts", oidTimestamptz, "timestamptz"}}
	s := &sink{}
	for i, c := range cols {
		p, err := planColumn(c, schema.Field(i).Type)
		if err != nil {
			b.Fatal(err)
		}
		s.plans = append(s.plans, p)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := &encoded{}
		rej := s.encode(e, rec, 1)
		e.release()
		if len(rej) > 0 || e.n() != n {
			b.Fatal("encode failed")
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func TestMulDiv(t *testing.T) {
	for _, c := range []struct{ a, b, c, want uint64 }{
		{10, 3, 4, 7}, {1 << 63, 3, 4, 3 << 61}, {0, 1, 4, 1 << 62}, {^uint64(0), 5, 5, ^uint64(0)},
	} {
		if got := mulDiv(c.a, c.b, c.c); got != c.want {
			t.Errorf("mulDiv(%d, %d, %d) = %d, want %d", c.a, c.b, c.c, got, c.want)
		}
	}
}

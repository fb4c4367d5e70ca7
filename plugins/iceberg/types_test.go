package iceberg_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Every scalar type of the README's mapping survives a write by the sink and
// a read with iceberg-go; a timestamp in a zone other than UTC is refused.
func TestTypeRoundTrip(t *testing.T) {
	w := newWarehouse(t)
	mem := memory.DefaultAllocator
	when := time.Date(2026, 3, 4, 5, 6, 7, 123000000, time.UTC)
	type col struct {
		typ  arrow.DataType
		add  func(b array.Builder)
		want string
	}
	cols := map[string]col{
		"b":     {arrow.FixedWidthTypes.Boolean, func(b array.Builder) { b.(*array.BooleanBuilder).Append(true) }, "true"},
		"i16":   {arrow.PrimitiveTypes.Int16, func(b array.Builder) { b.(*array.Int16Builder).Append(-7) }, "-7"},
		"i32":   {arrow.PrimitiveTypes.Int32, func(b array.Builder) { b.(*array.Int32Builder).Append(1 << 30) }, "1073741824"},
		"i64":   {arrow.PrimitiveTypes.Int64, func(b array.Builder) { b.(*array.Int64Builder).Append(1 << 60) }, "1152921504606846976"},
		"f32":   {arrow.PrimitiveTypes.Float32, func(b array.Builder) { b.(*array.Float32Builder).Append(1.5) }, "1.5"},
		"f64":   {arrow.PrimitiveTypes.Float64, func(b array.Builder) { b.(*array.Float64Builder).Append(2.25) }, "2.25"},
		"s":     {arrow.BinaryTypes.String, func(b array.Builder) { b.(*array.StringBuilder).Append("zoë") }, "zoë"},
		"bin":   {arrow.BinaryTypes.Binary, func(b array.Builder) { b.(*array.BinaryBuilder).Append([]byte{1, 2}) }, "AQI="},
		"d":     {arrow.FixedWidthTypes.Date32, func(b array.Builder) { b.(*array.Date32Builder).Append(arrow.Date32FromTime(when)) }, "2026-03-04"},
		"dec":   {&arrow.Decimal128Type{Precision: 10, Scale: 2}, func(b array.Builder) { b.(*array.Decimal128Builder).Append(decimal128.FromI64(12345)) }, "123.45"},
		"ts_us": {&arrow.TimestampType{Unit: arrow.Microsecond}, func(b array.Builder) { b.(*array.TimestampBuilder).Append(arrow.Timestamp(when.UnixMicro())) }, when.Format(time.RFC3339Nano)},
		"ts_ms": {&arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, func(b array.Builder) { b.(*array.TimestampBuilder).Append(arrow.Timestamp(when.UnixMilli())) }, when.Format(time.RFC3339Nano)},
		"ts_ns": {&arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, func(b array.Builder) { b.(*array.TimestampBuilder).Append(arrow.Timestamp(when.UnixNano())) }, when.Format(time.RFC3339Nano)},
	}
	var fields []arrow.Field
	var arrs []arrow.Array
	for name, c := range cols {
		b := array.NewBuilder(mem, c.typ)
		c.add(b)
		fields = append(fields, arrow.Field{Name: name, Type: c.typ, Nullable: true})
		arrs = append(arrs, b.NewArray())
		b.Release()
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, 1)
	if err := writeAndFlush(t, w.config("db.types", nil), "r", rec); err != nil {
		t.Fatal(err)
	}
	tb, closeCat := w.open(t, "db.types")
	defer closeCat()
	_, seq, err := tb.Scan().ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for got, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range got.Schema().Fields() {
			c := cols[f.Name]
			v := got.Column(i).ValueStr(0)
			if ts, ok := f.Type.(*arrow.TimestampType); ok {
				v = got.Column(i).(*array.Timestamp).Value(0).ToTime(ts.Unit).UTC().Format(time.RFC3339Nano)
			}
			if v != c.want {
				t.Errorf("column %s (%s, read as %s): got %q, want %q", f.Name, c.typ, f.Type, v, c.want)
			}
		}
		n += int(got.NumRows())
		got.Release()
	}
	if n != 1 {
		t.Fatalf("read %d rows, want 1", n)
	}

	// A zone other than UTC: refused with a clear error.
	b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "Europe/Paris"})
	b.Append(0)
	a := b.NewArray()
	b.Release()
	bad := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "t", Type: a.DataType(), Nullable: true}}, nil), []arrow.Array{a}, 1)
	err = writeAndFlush(t, w.config("db.paris", nil), "r", bad)
	if err == nil || !strings.Contains(err.Error(), "Europe/Paris") {
		t.Fatalf("want an error naming the zone, got %v", err)
	}
	t.Logf("non-UTC zone: %v", err)

	// Data whose column type does not fit the table's: a clear error.
	sb := array.NewStringBuilder(mem)
	sb.Append("x")
	sa := sb.NewArray()
	sb.Release()
	mismatch := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "i64", Type: arrow.BinaryTypes.String, Nullable: true}}, nil), []arrow.Array{sa}, 1)
	err = writeAndFlush(t, w.config("db.types", nil), "r2", mismatch)
	if err == nil || !strings.Contains(err.Error(), "i64") {
		t.Fatalf("want an error naming the column, got %v", err)
	}
	t.Logf("type mismatch: %v", err)
}

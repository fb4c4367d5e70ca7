package format

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestCSVWriter(t *testing.T) {
	mem := checkedMem(t)
	schema := Schema{{Name: "i", Type: "int64"}, {Name: "s", Type: "string"}, {Name: "f", Type: "float64"}, {Name: "b", Type: "bool"}, {Name: "ts", Type: "timestamp"}, {Name: "d", Type: "date"}}
	as, err := schema.Arrow()
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, -2, 3}, []bool{true, true, false})
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a,b", `q"q`, ""}, []bool{true, true, false})
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1.5, 1e21, 0}, []bool{true, true, false})
	b.Field(3).(*array.BooleanBuilder).AppendValues([]bool{true, false, false}, []bool{true, true, false})
	tm := time.Date(2024, 5, 6, 7, 8, 9, 123000, time.FixedZone("x", 3600))
	b.Field(4).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(tm.UnixMicro()), 0, 0}, []bool{true, true, false})
	b.Field(5).(*array.Date32Builder).AppendValues([]arrow.Date32{19753, -1, 0}, []bool{true, true, false})
	rec := b.NewRecordBatch()
	defer rec.Release()

	var buf bytes.Buffer
	w := NewCSVWriter(&buf, ';', true)
	for i := 0; i < 2; i++ {
		n, err := w.Write(rec)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("Write reported 0 bytes")
		}
	}
	rows := "1;a,b;1.5;true;2024-05-06T06:08:09.000123Z;2024-01-31\n" +
		"-2;\"q\"\"q\";1e+21;false;1970-01-01T00:00:00Z;1969-12-31\n" +
		";;;;;\n"
	want := "i;s;f;b;ts;d\n" + rows + rows
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}

	// Reading it back.
	f, size := writeFile(t, buf.String())
	r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, schema, CSVOptions{Delimiter: ';', Header: true}, 10, mem)
	if err != nil {
		t.Fatal(err)
	}
	res := drain(t, r, 10)
	wantRows := append(rowStrings(t, rec), rowStrings(t, rec)...)
	if len(res.rejects) > 0 || !reflect.DeepEqual(res.rows, wantRows) {
		t.Errorf("read back %q %+v, want %q", res.rows, res.rejects, wantRows)
	}
}

func TestCSVWriterSingleColumn(t *testing.T) {
	mem := checkedMem(t)
	as, _ := Schema{{Name: "s", Type: "string"}}.Arrow()
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"x", "", "", "y"}, []bool{true, false, true, true})
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	n, err := NewCSVWriter(&buf, 0, false).Write(rec)
	if err != nil {
		t.Fatal(err)
	}
	if want := "x\n\"\"\n\"\"\ny\n"; buf.String() != want || n != int64(len(want)) {
		t.Errorf("got %q (%d bytes), want %q", buf.String(), n, want)
	}
	// No row is lost as a blank line; a null becomes the empty string, the
	// one thing a one-column file cannot keep apart.
	f, size := writeFile(t, buf.String())
	r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, Schema{{Name: "s", Type: "string"}}, CSVOptions{}, 10, mem)
	if err != nil {
		t.Fatal(err)
	}
	if res := drain(t, r, 10); !reflect.DeepEqual(res.rows, []string{`"x"`, `""`, `""`, `"y"`}) {
		t.Errorf("read back %q", res.rows)
	}
}

// TestCSVWriterNullAndEmpty: nulls and empty strings, leading blanks,
// quotes, line breaks and a multi-byte delimiter survive a round trip
// through NewCSVWriter and NewCSVReader.
func TestCSVWriterNullAndEmpty(t *testing.T) {
	mem := checkedMem(t)
	schema := Schema{{Name: "s", Type: "string"}, {Name: "f", Type: "float64"}, {Name: "t", Type: "string"}}
	as, _ := schema.Arrow()
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"", "", " lead", "a§b", "x\r\ny", `\.`}, []bool{true, false, true, true, true, true})
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{1234567, 0.30000000000000004, 1e-7, 1e21, math.Inf(-1), math.NaN()}, nil)
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"", "q\"", "", "", "", ""}, []bool{false, true, true, false, false, false})
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	if _, err := NewCSVWriter(&buf, '§', true).Write(rec); err != nil {
		t.Fatal(err)
	}
	want := "s§f§t\n" +
		"\"\"§1234567§\n" +
		"§0.30000000000000004§\"q\"\"\"\n" +
		"\" lead\"§1e-7§\"\"\n" +
		"\"a§b\"§1e+21§\n" +
		"\"x\r\ny\"§-Inf§\n" +
		"\"\\.\"§NaN§\n"
	if buf.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", buf.String(), want)
	}
	f, size := writeFile(t, buf.String())
	r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, schema, CSVOptions{Delimiter: '§', Header: true}, 10, mem)
	if err != nil {
		t.Fatal(err)
	}
	res := drain(t, r, 10)
	wantRows := []string{`""|1.234567e+06|NULL`, `NULL|0.30000000000000004|"q\""`, `" lead"|1e-07|""`, `"a§b"|1e+21|NULL`, `"x\r\ny"|-Inf|NULL`, `"\\."|NaN|NULL`}
	if len(res.rejects) > 0 || !reflect.DeepEqual(res.rows, wantRows) {
		t.Errorf("read back %q %+v, want %q", res.rows, res.rejects, wantRows)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	n := min(len(p), f.after)
	f.after -= n
	if n < len(p) {
		return n, errors.New("disk full")
	}
	return n, nil
}

func TestWritersReportErrors(t *testing.T) {
	mem := checkedMem(t)
	recs := genRecords(t, mem, 2000, 9, false)
	defer releaseAll(recs)
	for name, w := range map[string]Writer{
		"csv":  NewCSVWriter(&failWriter{after: 1000}, ',', true),
		"json": NewJSONLinesWriter(&failWriter{after: 1000}),
	} {
		var err error
		var total int64
		for _, r := range recs {
			var n int64
			n, err = w.Write(r)
			total += n
			if err != nil {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: error %v", name, err)
		}
		if total != 1000 {
			t.Errorf("%s: reported %d bytes, want 1000", name, total)
		}
	}
}

func TestJSONLinesWriterOtherTypes(t *testing.T) {
	mem := checkedMem(t)
	as := arrow.NewSchema([]arrow.Field{
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32},
		{Name: "ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}},
		{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
		{Name: "k\"ey", Type: arrow.BinaryTypes.LargeString},
	}, nil)
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	b.Field(0).(*array.Int32Builder).Append(-5)
	b.Field(1).(*array.Uint64Builder).Append(math.MaxUint64)
	b.Field(2).(*array.Float32Builder).Append(0.1)
	b.Field(3).(*array.TimestampBuilder).Append(1)
	lb := b.Field(4).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	b.Field(5).(*array.LargeStringBuilder).Append("v")
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	if _, err := NewJSONLinesWriter(&buf).Write(rec); err != nil {
		t.Fatal(err)
	}
	want := `{"i32":-5,"u64":18446744073709551615,"f32":0.1,"ns":"1970-01-01T00:00:00.000000001Z","list":[1,2],"k\"ey":"v"}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}
}

func TestReadersWithDefaultsAndBadArgs(t *testing.T) {
	f, size := writeFile(t, "1\n2\n")
	s := Schema{{Name: "a", Type: "int64"}}
	// Batch size <= 0 and nil allocator use defaults.
	r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, s, CSVOptions{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := drain(t, r, DefaultBatchSize); !reflect.DeepEqual(res.rows, []string{"1", "2"}) {
		t.Errorf("rows %q", res.rows)
	}
	if _, err := NewCSVReader(f, Range{2, size, 2}, 0, 1, s, CSVOptions{}, 1, nil); err == nil {
		t.Error("offset before the range: no error")
	}
	if _, err := NewCSVReader(f, Range{0, size, 1}, 0, 0, s, CSVOptions{}, 1, nil); err == nil {
		t.Error("line 0: no error")
	}
	if _, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, s, CSVOptions{Delimiter: '\n'}, 1, nil); err == nil {
		t.Error("newline delimiter: no error")
	}
	if _, err := NewJSONArrayReader(f, size, size+1, 1, s, 1, nil); err == nil {
		t.Error("JSON array offset past the end: no error")
	}
	// Read errors are returned, not swallowed, and are sticky.
	for name, open := range map[string]func() (RecordReader, error){
		"csv": func() (RecordReader, error) {
			return NewCSVReader(errReaderAt{}, Range{0, 100, 1}, 5, 1, s, CSVOptions{}, 1, memory.DefaultAllocator)
		},
		"json lines": func() (RecordReader, error) {
			return NewJSONLinesReader(errReaderAt{}, Range{0, 100, 1}, 5, 1, s, 1, memory.DefaultAllocator)
		},
		"json array": func() (RecordReader, error) {
			return NewJSONArrayReader(errReaderAt{}, 100, 5, 1, s, 1, memory.DefaultAllocator)
		},
	} {
		r, err := open()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if _, _, err := r.Next(); err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "boom") {
				t.Errorf("%s: read error: %v", name, err)
			}
		}
		if off, line := r.Position(); off != 5 || line != 1 {
			t.Errorf("%s: position after error %d/%d", name, off, line)
		}
	}
}

type errReaderAt struct{}

func (errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("boom") }

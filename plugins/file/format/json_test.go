package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

var jsonSchema = Schema{
	{Name: "id", Type: "int64"},
	{Name: "name", Type: "string"},
	{Name: "amount", Type: "float64"},
	{Name: "ok", Type: "bool"},
	{Name: "ts", Type: "timestamp"},
	{Name: "day", Type: "date"},
}

const jsonLines = `{"id": 1, "name": "a\"b", "amount": 1.5, "ok": true, "ts": "2024-01-01T00:00:00Z", "day": "2024-01-01"}
{"id":2,"name":"x","extra":{"nested":[1,2]}}

  {"name": null, "id": 3.0, "amount": 7, "ok": "false", "ts": "2024-01-01 00:00:01"}  ` + "\r" + `
{"id": "4", "name": 5, "amount": "2.5", "day": ""}
not json
[1,2,3]
{"id": 1.5}
{"id": 6, "ts": "yesterday"}
{"id": 7, "name": {"k": "v"}, "ok": 1}
{"id": 8, "name": "\u00e9\ud83c\udf89", "id": 9}
{"id": 10, "amount": 1e400}
"just a string"
{"id": 11,}
{"id": 12}`

func lineOf(content string, n int) (string, int64) {
	lines := strings.SplitAfter(content, "\n")
	off := 0
	for _, l := range lines[:n-1] {
		off += len(l)
	}
	return strings.TrimRight(lines[n-1], "\r\n"), int64(off)
}

func TestJSONLinesReader(t *testing.T) {
	mem := checkedMem(t)
	f, size := writeFile(t, jsonLines)
	wantRows := []string{
		`1|"a\"b"|1.5|true|ts1704067200000000|d19723`,
		`2|"x"|NULL|NULL|NULL|NULL`,
		`3|NULL|7|false|ts1704067201000000|NULL`,
		`4|"5"|2.5|NULL|NULL|NULL`,
		`9|"é🎉"|NULL|NULL|NULL|NULL`,
		`12|NULL|NULL|NULL|NULL|NULL`,
	}
	reject := func(line int, reason string) Rejected {
		raw, off := lineOf(jsonLines, line)
		return Rejected{Line: int64(line), Offset: off, Raw: []byte(raw), Reason: reason}
	}
	wantRejects := []Rejected{
		reject(6, "invalid JSON: invalid character 'o' in literal null (expecting 'u')"),
		reject(7, "not a JSON object: array"),
		reject(8, `column "id": cannot parse 1.5 as int64`),
		reject(9, `column "ts": cannot parse "yesterday" as timestamp`),
		reject(10, `column "ok": cannot parse 1 as bool`),
		reject(12, `column "amount": cannot parse 1e400 as float64`),
		reject(13, "not a JSON object: string"),
		reject(14, "invalid JSON: invalid character '}' looking for beginning of object key string"),
	}
	for _, batchSize := range []int{1, 4, 100} {
		r, err := NewJSONLinesReader(f, Range{0, size, 1}, 0, 1, jsonSchema, batchSize, mem)
		if err != nil {
			t.Fatal(err)
		}
		res := drain(t, r, batchSize)
		if !reflect.DeepEqual(res.rows, wantRows) {
			t.Errorf("batch %d: rows =\n%q\nwant\n%q", batchSize, res.rows, wantRows)
		}
		if !reflect.DeepEqual(res.rejects, wantRejects) {
			t.Errorf("batch %d: rejects =\n%+v\nwant\n%+v", batchSize, res.rejects, wantRejects)
		}
		if off, line := r.Position(); off != size || line != 15 {
			t.Errorf("position = %d, %d", off, line)
		}
	}

	// Ranges and resume give the same result.
	ranges, err := PlanRanges(f, size, 40, false)
	if err != nil {
		t.Fatal(err)
	}
	var all result
	for _, rg := range ranges {
		r, err := NewJSONLinesReader(f, rg, rg.Start, rg.StartLine, jsonSchema, 2, mem)
		if err != nil {
			t.Fatal(err)
		}
		rec, _, err := r.Next()
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if rec != nil {
			rec.Release()
		}
		off, line := r.Position()
		r.(io.Closer).Close()
		// Resume after the first batch (which is thrown away above, so
		// re-read it with a reader bounded at the position).
		head, err := NewJSONLinesReader(f, Range{rg.Start, off, rg.StartLine}, rg.Start, rg.StartLine, jsonSchema, 2, mem)
		if err != nil {
			t.Fatal(err)
		}
		h := drain(t, head, 2)
		r2, err := NewJSONLinesReader(f, rg, off, line, jsonSchema, 2, mem)
		if err != nil {
			t.Fatal(err)
		}
		rest := drain(t, r2, 2)
		all.rows = append(append(all.rows, h.rows...), rest.rows...)
		all.rejects = append(append(all.rejects, h.rejects...), rest.rejects...)
	}
	if len(ranges) < 4 || !reflect.DeepEqual(all.rows, wantRows) || !reflect.DeepEqual(all.rejects, wantRejects) {
		t.Errorf("ranged read (%d ranges): %q %+v", len(ranges), all.rows, all.rejects)
	}
}

func jsonArrayOf(lines []string) string {
	return "[\n  " + strings.Join(lines, ",\n  ") + "\n]\n"
}

func TestJSONArrayReader(t *testing.T) {
	content := jsonArrayOf([]string{
		`{"id": 1, "name": "x, [y]", "ok": false}`,
		`{"id": 2,
    "name": "two\nlines {"}`,
		`[1]`,
		`{"id": "nope"}`,
		`42`,
		`{"id": 3, "day": "2024-02-29", "extra": [{"a": "]"}]}`,
		`null`,
		`{}`,
	})
	wantRows := []string{
		`1|"x, [y]"|NULL|false|NULL|NULL`,
		`2|"two\nlines {"|NULL|NULL|NULL|NULL`,
		`3|NULL|NULL|NULL|NULL|d19782`,
		`NULL|NULL|NULL|NULL|NULL|NULL`,
	}
	off := func(s string) int64 { return int64(strings.Index(content, s)) }
	wantRejects := []Rejected{
		{Line: 5, Offset: off("[1]"), Raw: []byte("[1]"), Reason: "not a JSON object: array"},
		{Line: 6, Offset: off(`{"id": "nope"}`), Raw: []byte(`{"id": "nope"}`), Reason: `column "id": cannot parse "nope" as int64`},
		{Line: 7, Offset: off("42"), Raw: []byte("42"), Reason: "not a JSON object: number"},
		{Line: 9, Offset: off("null"), Raw: []byte("null"), Reason: "not a JSON object: null"},
	}
	f, size := writeFile(t, content)
	mem := checkedMem(t)
	for _, batchSize := range []int{1, 2, 3, 100} {
		r, err := NewJSONArrayReader(f, size, 0, 1, jsonSchema, batchSize, mem)
		if err != nil {
			t.Fatal(err)
		}
		want := drain(t, r, batchSize)
		if !reflect.DeepEqual(want.rows, wantRows) {
			t.Errorf("rows =\n%q\nwant\n%q", want.rows, wantRows)
		}
		if !reflect.DeepEqual(want.rejects, wantRejects) {
			t.Errorf("rejects =\n%+v\nwant\n%+v", want.rejects, wantRejects)
		}
		if o, l := r.Position(); o != size || l != 12 {
			t.Errorf("final position %d, %d", o, l)
		}
		// Resume after every batch.
		for k := 1; ; k++ {
			r, err := NewJSONArrayReader(f, size, 0, 1, jsonSchema, batchSize, mem)
			if err != nil {
				t.Fatal(err)
			}
			var got result
			var err2 error
			for i := 0; i < k && err2 == nil; i++ {
				var rec arrow.RecordBatch
				var rej []Rejected
				rec, rej, err2 = r.Next()
				got.rejects = append(got.rejects, rej...)
				if rec != nil {
					got.rows = append(got.rows, rowStrings(t, rec)...)
					rec.Release()
				}
			}
			o, l := r.Position()
			r.(io.Closer).Close()
			r2, err := NewJSONArrayReader(f, size, o, l, jsonSchema, batchSize, mem)
			if err != nil {
				t.Fatal(err)
			}
			rest := drain(t, r2, batchSize)
			got.rows = append(got.rows, rest.rows...)
			got.rejects = append(got.rejects, rest.rejects...)
			if !reflect.DeepEqual(got, result{rows: want.rows, rejects: want.rejects, batches: got.batches}) {
				t.Fatalf("batch %d, resume after %d at %d/%d: %q %+v", batchSize, k, o, l, got.rows, got.rejects)
			}
			if err2 != nil {
				break
			}
		}
	}
}

func TestJSONArraySyntaxErrors(t *testing.T) {
	tests := []struct {
		content  string
		rows     int
		wantLine string
	}{
		{"[\n{\"id\":1},\n{\"id\":2,}\n]", 1, "line 3"},
		{"[\n{\"id\":1}\n{\"id\":2}\n]", 0, "line 3"},
		{"[\n{\"id\":1},\n]", 0, "line 3"},
		{"[\n{\"id\":1},\n{\"id\":2}", 1, "line 3"},
		{"[\n{\"id\":1}]\n]", 1, "line 3"},
		{"{\"id\":1}", 0, "line 1"},
		{"[\n{\"id\": \"unterminated}\n]", 0, "line 2"},
		{"[\n{\"id\":1},\n\n{\"id\":[}\n]", 1, "line 4"},
		{"[\n{\"id\":1},\n\n  nul\n]", 1, "line 4"},
	}
	for _, tc := range tests {
		f, size := writeFile(t, tc.content)
		mem := checkedMem(t)
		r, err := NewJSONArrayReader(f, size, 0, 1, jsonSchema, 1, mem)
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for {
			rec, _, err := r.Next()
			if rec != nil {
				rows += int(rec.NumRows())
				rec.Release()
			}
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrJSONSyntax) || !strings.Contains(err.Error(), tc.wantLine) {
				t.Errorf("%q: error %v, want a syntax error at %s", tc.content, err, tc.wantLine)
			}
			if _, _, err2 := r.Next(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("%q: error not sticky: %v", tc.content, err2)
			}
			break
		}
		if rows != tc.rows {
			t.Errorf("%q: %d rows before the error, want %d", tc.content, rows, tc.rows)
		}
	}
	// Empty and blank files hold no rows; so does an empty array.
	for _, content := range []string{"", "  \n", "[]", " [ \n ] \n"} {
		f, size := writeFile(t, content)
		r, err := NewJSONArrayReader(f, size, 0, 1, jsonSchema, 1, checkedMem(t))
		if err != nil {
			t.Fatal(err)
		}
		if res := drain(t, r, 1); len(res.rows)+len(res.rejects) != 0 {
			t.Errorf("%q: %+v", content, res)
		}
	}
}

func TestInferJSON(t *testing.T) {
	lines := `{"a": 1, "b": 1.5, "c": true, "d": "x", "e": null}
{"a": 2, "b": 2, "f": {"k": 1}, "g": [1], "h": 1}

not json
{"a": -3, "e": null, "h": "1", "i": 1e2, "j": 1.0}
{"d": "2024-01-01T00:00:00Z", "k\u00e9y": 9223372036854775808}`
	want := Schema{
		{Name: "a", Type: "int64", Strict: true}, {Name: "b", Type: "float64", Strict: true}, {Name: "c", Type: "bool", Strict: true}, {Name: "d", Type: "string"}, {Name: "e", Type: "string"},
		{Name: "f", Type: "string"}, {Name: "g", Type: "string"}, {Name: "h", Type: "string"}, {Name: "i", Type: "float64", Strict: true}, {Name: "j", Type: "float64", Strict: true}, {Name: "kéy", Type: "string"},
	}
	got, err := InferJSON(strings.NewReader(lines), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines: got %v\nwant %v", got, want)
	}
	var objs []string
	for _, l := range strings.Split(lines, "\n") {
		if strings.HasPrefix(l, "{") {
			objs = append(objs, l)
		}
	}
	got, err = InferJSON(strings.NewReader(jsonArrayOf(objs)), true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("array: got %v\nwant %v", got, want)
	}
	// Sample limit: only the first object.
	got, err = InferJSON(strings.NewReader(lines), false, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Schema{{Name: "a", Type: "int64", Strict: true}, {Name: "b", Type: "float64", Strict: true}, {Name: "c", Type: "bool", Strict: true}, {Name: "d", Type: "string"}, {Name: "e", Type: "string"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("sample 1: got %v", got)
	}
	if _, err := InferJSON(strings.NewReader("[1,2"), true, 10); !errors.Is(err, ErrJSONSyntax) {
		t.Errorf("broken array: %v", err)
	}
	if _, err := InferJSON(strings.NewReader("\n\n"), false, 10); err == nil {
		t.Error("no keys: no error")
	}
}

// TestInferJSONLossless: a JSON number column is int64 or float64 only when
// the type holds every sampled number as the same number; otherwise it is a
// string column holding each number's JSON text. Values after the sample
// that the inferred type would change reject their line.
func TestInferJSONLossless(t *testing.T) {
	tests := []struct {
		values []string
		typ    string
		rows   []string
	}{
		{[]string{"0", "-7", "9223372036854775807", "-0"}, "int64", []string{"0", "-7", "9223372036854775807", "0"}},
		{[]string{"1", "9223372036854775808"}, "string", []string{`"1"`, `"9223372036854775808"`}},
		{[]string{"12345678901234567890"}, "string", []string{`"12345678901234567890"`}},
		{[]string{"1.5", "1.50", "1e2", "0.30000000000000004", "-2.5E-3", "5"}, "float64", []string{"1.5", "1.5", "100", "0.30000000000000004", "-0.0025", "5"}},
		{[]string{"0.12345678901234567890"}, "string", []string{`"0.12345678901234567890"`}},
		{[]string{"1.5", "9007199254740993"}, "string", []string{`"1.5"`, `"9007199254740993"`}},
		{[]string{"1e400"}, "string", []string{`"1e400"`}},
	}
	for _, tc := range tests {
		var sb strings.Builder
		for _, v := range tc.values {
			fmt.Fprintf(&sb, "{\"v\": %s}\n", v)
		}
		content := sb.String()
		schema, err := InferJSON(strings.NewReader(content), false, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Schema{{Name: "v", Type: tc.typ, Strict: tc.typ != "string"}}); !reflect.DeepEqual(schema, want) {
			t.Errorf("%q: inferred %v, want %v", tc.values, schema, want)
			continue
		}
		mem := checkedMem(t)
		f, size := writeFile(t, content)
		r, err := NewJSONLinesReader(f, Range{0, size, 1}, 0, 1, schema, 100, mem)
		if err != nil {
			t.Fatal(err)
		}
		res := drain(t, r, 100)
		if len(res.rejects) > 0 || !reflect.DeepEqual(res.rows, tc.rows) {
			t.Errorf("%q read back as %q %+v, want %q", tc.values, res.rows, res.rejects, tc.rows)
		}
	}

	content := `{"n": 1, "f": 0.5, "s": "x"}
{"n": 2.0, "f": 0.12345678901234567890, "s": 1}
{"n": 12345678901234567890, "f": 1, "s": 2}
{"n": "08123", "f": "1e3", "s": 3}
{"n": "7", "f": "2.50", "s": 4}
`
	schema, err := InferJSON(strings.NewReader(content), false, 1)
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedMem(t)
	f, size := writeFile(t, content)
	r, err := NewJSONLinesReader(f, Range{0, size, 1}, 0, 1, schema, 100, mem)
	if err != nil {
		t.Fatal(err)
	}
	res := drain(t, r, 100)
	var reasons []string
	for _, rj := range res.rejects {
		reasons = append(reasons, fmt.Sprintf("%d: %s", rj.Line, rj.Reason))
	}
	wantReasons := []string{
		`2: column "f": cannot parse 0.12345678901234567890 as float64`,
		`3: column "n": cannot parse 12345678901234567890 as int64`,
		`4: column "n": cannot parse "08123" as int64`,
	}
	if want := []string{`1|0.5|"x"`, `7|2.5|"4"`}; !reflect.DeepEqual(res.rows, want) || !reflect.DeepEqual(reasons, wantReasons) {
		t.Errorf("strict after sample: rows %q, rejects %q", res.rows, reasons)
	}
}

// TestJSONLinesWriter writes records of every column type and checks the
// output with encoding/json and with NewJSONLinesReader.
func TestJSONLinesWriter(t *testing.T) {
	mem := checkedMem(t)
	as, err := jsonSchema.Arrow()
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	names := []string{"plain", "quote \" backslash \\ slash /", "ctl \x00\x01\x1f\t\n\r", "<html>&", "é🎉\u2028\u2029", "bad utf8 \xff", ""}
	ts := []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC),
		time.Date(1900, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
	}
	floats := []float64{0, -0.5, 1e21, 1e-7, 123456.789, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1)}
	n := 30
	for i := 0; i < n; i++ {
		if i%5 == 4 {
			for _, fb := range b.Fields() {
				fb.AppendNull()
			}
			continue
		}
		b.Field(0).(*array.Int64Builder).Append([]int64{math.MinInt64, math.MaxInt64, 0, -7}[i%4])
		b.Field(1).(*array.StringBuilder).Append(names[i%len(names)])
		b.Field(2).(*array.Float64Builder).Append(floats[i%len(floats)])
		b.Field(3).(*array.BooleanBuilder).Append(i%2 == 0)
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(ts[i%len(ts)].UnixMicro()))
		b.Field(5).(*array.Date32Builder).Append(arrow.Date32FromTime(ts[i%len(ts)]))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	var buf bytes.Buffer
	w := NewJSONLinesWriter(&buf)
	n1, err := w.Write(rec)
	if err != nil {
		t.Fatal(err)
	}
	sl := rec.NewSlice(3, 7)
	defer sl.Release()
	n2, err := w.Write(sl)
	if err != nil {
		t.Fatal(err)
	}
	if n1+n2 != int64(buf.Len()) {
		t.Fatalf("reported %d bytes, wrote %d", n1+n2, buf.Len())
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n+4 {
		t.Fatalf("%d lines, want %d", len(lines), n+4)
	}
	for i, l := range lines {
		row := i
		if i >= n {
			row = i - n + 3
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %d %q: %v", i+1, l, err)
		}
		// Keys in schema order.
		for j := 1; j < len(jsonSchema); j++ {
			if strings.Index(l, `"`+jsonSchema[j-1].Name+`":`) > strings.Index(l, `"`+jsonSchema[j].Name+`":`) {
				t.Fatalf("line %d: keys out of order: %s", i+1, l)
			}
		}
		if row%5 == 4 {
			for k, v := range m {
				if v != nil {
					t.Fatalf("line %d: %s = %v, want null", i+1, k, v)
				}
			}
			continue
		}
		wantID := []int64{math.MinInt64, math.MaxInt64, 0, -7}[row%4]
		if m["id"].(json.Number).String() != fmt.Sprint(wantID) {
			t.Errorf("line %d: id %v, want %d", i+1, m["id"], wantID)
		}
		wantName := strings.ToValidUTF8(names[row%len(names)], "\uFFFD")
		if m["name"] != wantName {
			t.Errorf("line %d: name %q, want %q", i+1, m["name"], wantName)
		}
		wantF := floats[row%len(floats)]
		if math.IsNaN(wantF) || math.IsInf(wantF, 0) {
			if m["amount"] != nil {
				t.Errorf("line %d: amount %v, want null", i+1, m["amount"])
			}
		} else if got, err := m["amount"].(json.Number).Float64(); err != nil || got != wantF {
			t.Errorf("line %d: amount %v, want %v", i+1, m["amount"], wantF)
		}
		if m["ok"] != (row%2 == 0) {
			t.Errorf("line %d: ok %v", i+1, m["ok"])
		}
		wantTS := ts[row%len(ts)]
		if got, err := time.Parse(time.RFC3339Nano, m["ts"].(string)); err != nil || !got.Equal(wantTS) || !strings.HasSuffix(m["ts"].(string), "Z") {
			t.Errorf("line %d: ts %v, want %v", i+1, m["ts"], wantTS)
		}
		if m["day"] != wantTS.Format("2006-01-02") {
			t.Errorf("line %d: day %v", i+1, m["day"])
		}
	}

	// Reading the output back gives the same rows, except for what JSON
	// cannot hold (NaN and infinities become null, invalid UTF-8 U+FFFD).
	f, size := writeFile(t, out)
	r, err := NewJSONLinesReader(f, Range{0, size, 1}, 0, 1, jsonSchema, 7, mem)
	if err != nil {
		t.Fatal(err)
	}
	res := drain(t, r, 7)
	if len(res.rejects) != 0 {
		t.Fatalf("rejects: %+v", res.rejects)
	}
	want := append(rowStrings(t, rec), rowStrings(t, sl)...)
	for i := range want {
		want[i] = strings.NewReplacer(`|NaN|`, `|NULL|`, `|+Inf|`, `|NULL|`, `\xff`, `�`).Replace(want[i])
	}
	if !reflect.DeepEqual(res.rows, want) {
		t.Errorf("read back:\n%q\nwant\n%q", res.rows, want)
	}
}

func TestParseTimestampMatchesTime(t *testing.T) {
	layouts := []string{time.RFC3339Nano, time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05"}
	inputs := []string{
		"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.123456789Z",
		"2024-01-02T03:04:05.1234567891Z", "2024-01-02T03:04:05+05:30", "2024-01-02T03:04:05.5-08:00",
		"2024-01-02 03:04:05", "2024-01-02T03:04:05", "2024-01-02 03:04:05.25", "0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z", "1960-02-29T12:00:00Z",
		"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z",
		"2024-01-01T23:59:60Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00z",
		"2024-01-01", "2024-1-01T00:00:00Z", "2024-01-01T00:00:00+0100", "x024-01-01T00:00:00Z", "",
		"2024-01-01T00:00:00Zjunk", "2024-01-01 00:00:00 ",
	}
	for _, s := range inputs {
		var want time.Time
		ok := false
		for _, l := range layouts {
			if tm, err := time.Parse(l, s); err == nil {
				want, ok = tm, true
				break
			}
		}
		got, gotOK := parseTimestamp(s)
		if gotOK != ok {
			t.Errorf("parseTimestamp(%q) ok = %v, time.Parse ok = %v", s, gotOK, ok)
			continue
		}
		if ok && got != want.UnixMicro() {
			t.Errorf("parseTimestamp(%q) = %d, want %d", s, got, want.UnixMicro())
		}
	}
	// Deliberately stricter than time.Parse, which accepts a +24:00 offset.
	if _, ok := parseTimestamp("2024-01-01T00:00:00+24:00"); ok {
		t.Error("parseTimestamp accepts a +24:00 offset")
	}
	for _, s := range []string{"2024-02-29", "1970-01-01", "0001-01-01", "1899-12-31", "2023-02-29", "2024-00-10", "2024-01-32", "2024/01/01"} {
		tm, err := time.Parse("2006-01-02", s)
		got, ok := parseDate(s)
		if ok != (err == nil) || (ok && got != tm.Unix()/86400) {
			t.Errorf("parseDate(%q) = %d, %v; time.Parse: %v, %v", s, got, ok, tm, err)
		}
	}
}

// TestJSONArrayResumeAtTruncatedEnd: a reader resumed at the end of a file
// that stops after a comma still reports the truncated array (found by
// FuzzJSONArray: it used to end without error), and one resumed after the
// closing bracket ends cleanly.
func TestJSONArrayResumeAtTruncatedEnd(t *testing.T) {
	schema := Schema{{Name: "a", Type: "int64"}}
	for content, want := range map[string]string{
		`[{"a": 1},` + " \n":   "json array reader: JSON syntax error at line 2 (offset 12): unexpected end of input inside the array",
		`[{"a": 1}]` + " \n\n": "EOF",
	} {
		f, size := writeFile(t, content)
		r, err := NewJSONArrayReader(f, size, size, 1+int64(strings.Count(content, "\n")), schema, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Next(); fmt.Sprint(err) != want {
			t.Errorf("%q resumed at its end: %v, want %s", content, err, want)
		}
	}
}

package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// writeCSV writes recs with NewCSVWriter into a new file.
func writeCSV(t testing.TB, recs []arrow.RecordBatch, delim rune, header bool) (*os.File, int64, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := NewCSVWriter(&buf, delim, header)
	total := int64(0)
	for _, r := range recs {
		n, err := w.Write(r)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != int64(buf.Len()) {
		t.Fatalf("Write reported %d bytes, wrote %d", total, buf.Len())
	}
	f, size := writeFile(t, buf.String())
	return f, size, buf.Bytes()
}

// checkRanges verifies that ranges tile the data after the header and that
// every StartLine is exact.
func checkRanges(t *testing.T, data []byte, ranges []Range, header bool) {
	t.Helper()
	start := int64(0)
	if header {
		start = int64(bytes.IndexByte(data, '\n') + 1)
	}
	if len(data) == 0 || start >= int64(len(data)) {
		if len(ranges) != 0 {
			t.Fatalf("ranges for empty data: %v", ranges)
		}
		return
	}
	if len(ranges) == 0 {
		t.Fatal("no ranges")
	}
	next := start
	line, counted := int64(1), int64(0)
	for i, r := range ranges {
		if r.Start != next {
			t.Fatalf("range %d starts at %d, want %d", i, r.Start, next)
		}
		if r.End <= r.Start {
			t.Fatalf("range %d is empty: %+v", i, r)
		}
		if r.Start > 0 && data[r.Start-1] != '\n' {
			t.Fatalf("range %d does not start at a line start: %+v", i, r)
		}
		line += int64(bytes.Count(data[counted:r.Start], []byte{'\n'}))
		counted = r.Start
		if r.StartLine != line {
			t.Fatalf("range %d StartLine = %d, want %d", i, r.StartLine, line)
		}
		next = r.End
	}
	if next != int64(len(data)) {
		t.Fatalf("ranges end at %d, want %d", next, len(data))
	}
}

func TestCSVRoundTripRanges(t *testing.T) {
	mem := checkedMem(t)
	recs := genRecords(t, mem, 10000, 1, false)
	defer releaseAll(recs)
	want := allRows(t, recs)

	tests := []struct {
		name   string
		delim  rune
		header bool
		target int64
	}{
		{"comma header 4KiB", ',', true, 4 << 10},
		{"comma no header 4KiB", ',', false, 4 << 10},
		{"semicolon 1KiB", ';', true, 1 << 10},
		{"tab 64KiB", '\t', true, 64 << 10},
		{"one byte targets", ',', true, 1},
		{"single range", ',', true, 0},
		{"target larger than file", ',', false, 1 << 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, size, data := writeCSV(t, recs, tc.delim, tc.header)
			opts := CSVOptions{Delimiter: tc.delim, Header: tc.header}
			ranges, err := PlanCSVRanges(f, size, tc.target, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkRanges(t, data, ranges, tc.header)
			if tc.target == 4<<10 && len(ranges) < 50 {
				t.Fatalf("only %d ranges for a %d-byte file", len(ranges), size)
			}
			var got []string
			for _, rg := range ranges {
				r, err := NewCSVReader(f, rg, rg.Start, rg.StartLine, testSchema, opts, 777, mem)
				if err != nil {
					t.Fatal(err)
				}
				res := drain(t, r, 777)
				if len(res.rejects) > 0 {
					t.Fatalf("range %+v: unexpected rejects: %+v", rg, res.rejects[0])
				}
				got = append(got, res.rows...)
				if off, _ := r.Position(); off < rg.End {
					t.Fatalf("range %+v: final position %d before the range end", rg, off)
				}
			}
			sameMultiset(t, got, want)
		})
	}
}

// TestCSVLineBreaksRoundTrip reads a file with quoted line breaks (LF and
// CRLF) written by NewCSVWriter, whole and cut into ranges by
// PlanCSVRanges: every row comes back exactly, CRLF inside fields included.
func TestCSVLineBreaksRoundTrip(t *testing.T) {
	mem := checkedMem(t)
	recs := genRecords(t, mem, 3000, 2, true)
	defer releaseAll(recs)
	f, size, data := writeCSV(t, recs, ',', true)
	if !bytes.Contains(data, []byte("second line\r\nthird")) {
		t.Fatal("test data has no multi-line field")
	}
	want := allRows(t, recs)
	for _, target := range []int64{0, 1, 1000, 4 << 10} {
		opts := CSVOptions{Header: true}
		ranges, err := PlanCSVRanges(f, size, target, opts)
		if err != nil {
			t.Fatal(err)
		}
		if target == 4<<10 && len(ranges) < 20 {
			t.Fatalf("only %d ranges", len(ranges))
		}
		var got []string
		for _, rg := range ranges {
			if rg.Start > 0 && data[rg.Start-1] != '\n' {
				t.Fatalf("range %+v does not start at a line start", rg)
			}
			r, err := NewCSVReader(f, rg, rg.Start, rg.StartLine, testSchema, opts, 500, mem)
			if err != nil {
				t.Fatal(err)
			}
			res := drain(t, r, 500)
			if len(res.rejects) > 0 {
				t.Fatalf("target %d, range %+v: unexpected rejects: %+v", target, rg, res.rejects[0])
			}
			got = append(got, res.rows...)
		}
		if !reflect.DeepEqual(got, want) {
			sameMultiset(t, got, want)
			t.Fatalf("target %d: rows out of order", target)
		}
	}
}

func TestCSVResume(t *testing.T) {
	mem := checkedMem(t)
	for _, newlines := range []bool{false, true} {
		recs := genRecords(t, mem, 2000, 3, newlines)
		defer releaseAll(recs)
		t.Run(fmt.Sprintf("newlines=%v", newlines), func(t *testing.T) {
			f, size, _ := writeCSV(t, recs, ',', true)
			// Add bad lines so that rejects cross batch boundaries too.
			data, _ := io.ReadAll(io.NewSectionReader(f, 0, size))
			data = append(data, "bad line\n1,x,notanumber,\n\n7,\"unbalanced,1,\n"...)
			data = append(data, data[bytes.IndexByte(data, '\n')+1:]...)
			f, size = writeFile(t, string(data))
			opts := CSVOptions{Header: true}
			ranges, err := PlanCSVRanges(f, size, size/3, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(ranges) < 3 {
				t.Fatalf("ranges %v", ranges)
			}
			for _, rg := range ranges {
				full, err := NewCSVReader(f, rg, rg.Start, rg.StartLine, testSchema, opts, 64, mem)
				if err != nil {
					t.Fatal(err)
				}
				want := drain(t, full, 64)
				// Stop after k batches, resume from Position.
				for _, k := range []int{0, 1, 3, 7} {
					r, err := NewCSVReader(f, rg, rg.Start, rg.StartLine, testSchema, opts, 64, mem)
					if err != nil {
						t.Fatal(err)
					}
					var got result
					for i := 0; i < k; i++ {
						rec, rej, err := r.Next()
						got.rejects = append(got.rejects, rej...)
						if rec != nil {
							got.rows = append(got.rows, rowStrings(t, rec)...)
							rec.Release()
						}
						if err != nil {
							break
						}
					}
					off, line := r.Position()
					r.(io.Closer).Close()
					r2, err := NewCSVReader(f, rg, off, line, testSchema, opts, 64, mem)
					if err != nil {
						t.Fatal(err)
					}
					rest := drain(t, r2, 64)
					got.rows = append(got.rows, rest.rows...)
					got.rejects = append(got.rejects, rest.rejects...)
					if !reflect.DeepEqual(got.rows, want.rows) {
						t.Fatalf("range %+v, resume after %d batches: %d rows, want %d", rg, k, len(got.rows), len(want.rows))
					}
					if !reflect.DeepEqual(got.rejects, want.rejects) {
						t.Fatalf("range %+v, resume after %d batches: rejects differ:\n%+v\nwant\n%+v", rg, k, got.rejects, want.rejects)
					}
				}
			}
		})
	}
}

var malformedCSV = "id,name,amount\n" +
	"1,alice,1.5\n" +
	"2,\"bob,3.0\n" +
	"3,carol,2.5\n" +
	"4,dave,1.0,extra\n" +
	"5,eve,abc\n" +
	"6,\"frank \"\"f\"\"\",7\n" +
	"7,gina,8"

func TestCSVMalformed(t *testing.T) {
	schema := Schema{{Name: "id", Type: "int64"}, {Name: "name", Type: "string"}, {Name: "amount", Type: "float64"}}
	f, size := writeFile(t, malformedCSV)
	lineOffset := func(prefix string) int64 { return int64(strings.Index(malformedCSV, prefix)) }
	wantRejects := []Rejected{
		{Line: 3, Offset: lineOffset("2,"), Raw: []byte(`2,"bob,3.0`), Reason: `quoted field opened at line 3 ends at line 7 with a " followed by 'f': a closing " is probably missing at line 3, or a " inside the field is not doubled; only line 3 is rejected, reading goes on at line 4`},
		{Line: 5, Offset: lineOffset("4,"), Raw: []byte("4,dave,1.0,extra"), Reason: "wrong number of fields: expected 3, got 4"},
		{Line: 6, Offset: lineOffset("5,"), Raw: []byte("5,eve,abc"), Reason: `column "amount": cannot parse "abc" as float64`},
	}
	wantRows := []string{`1|"alice"|1.5`, `3|"carol"|2.5`, `6|"frank \"f\""|7`, `7|"gina"|8`}
	for _, target := range []int64{0, 1} {
		t.Run(fmt.Sprintf("target=%d", target), func(t *testing.T) {
			mem := checkedMem(t)
			ranges, err := PlanCSVRanges(f, size, 0, CSVOptions{Header: true})
			if err != nil {
				t.Fatal(err)
			}
			rg := ranges[0]
			r, err := NewCSVReader(f, rg, rg.Start, rg.StartLine, schema, CSVOptions{Header: true}, 2, mem)
			if err != nil {
				t.Fatal(err)
			}
			res := drain(t, r, 2)
			if !reflect.DeepEqual(res.rows, wantRows) {
				t.Errorf("rows = %q, want %q", res.rows, wantRows)
			}
			if !reflect.DeepEqual(res.rejects, wantRejects) {
				t.Errorf("rejects =\n%+v\nwant\n%+v", res.rejects, wantRejects)
			}
			for _, rj := range res.rejects {
				if got := malformedCSV[rj.Offset : rj.Offset+int64(len(rj.Raw))]; got != string(rj.Raw) {
					t.Errorf("Raw %q is not the text at Offset %d (%q)", rj.Raw, rj.Offset, got)
				}
			}
			if off, line := r.Position(); off != size || line != 8 {
				t.Errorf("final position = %d, %d; want %d, 8", off, line, size)
			}
		})
	}
}

func TestCSVDialects(t *testing.T) {
	schema := Schema{{Name: "a", Type: "int64"}, {Name: "b", Type: "string"}, {Name: "c", Type: "bool"}, {Name: "d", Type: "date"}}
	tests := []struct {
		name    string
		content string
		opts    CSVOptions
		rows    []string
		rejects []Rejected
	}{
		{
			name:    "header comma",
			content: "a,b,c,d\n1,x,true,2024-01-31\n2,y,false,1969-12-31\n",
			opts:    CSVOptions{Header: true},
			rows:    []string{`1|"x"|true|d19753`, `2|"y"|false|d-1`},
		},
		{
			name:    "no header, no final newline",
			content: "1,x,true,2024-01-31\n2,y,0,2000-02-29",
			rows:    []string{`1|"x"|true|d19753`, `2|"y"|false|d11016`},
		},
		{
			name:    "semicolon",
			content: "a;b;c;d\n1;\"x;y\";T;2024-01-31\n",
			opts:    CSVOptions{Delimiter: ';', Header: true},
			rows:    []string{`1|"x;y"|true|d19753`},
		},
		{
			name:    "tab",
			content: "1\tx,y\tfalse\t2024-01-31\n",
			opts:    CSVOptions{Delimiter: '\t'},
			rows:    []string{`1|"x,y"|false|d19753`},
		},
		{
			name:    "CRLF and blank lines",
			content: "a,b,c,d\r\n\r\n1,x,true,2024-01-31\r\n\n\r\n2,y,false,2024-02-01\r\n\r\n3,\"bad\r\n",
			opts:    CSVOptions{Header: true},
			rows:    []string{`1|"x"|true|d19753`, `2|"y"|false|d19754`},
			rejects: []Rejected{{Line: 8, Offset: 59, Raw: []byte(`3,"bad`), Reason: `quoted field opened at line 8 is never closed: the file ends inside it (a closing " is missing, or a " inside the field is not doubled); only line 8 is rejected, reading goes on at line 9`}},
		},
		{
			name:    "default nulls",
			content: ",,,\n1, , ,\n",
			rows:    []string{`NULL|NULL|NULL|NULL`, `1|" "|NULL|NULL`},
		},
		{
			name:    "custom nulls",
			content: "NA,NA,null,NA\n1,,NA,\n",
			opts:    CSVOptions{NullValues: []string{"NA", "null"}},
			rows:    []string{`NULL|NULL|NULL|NULL`},
			rejects: []Rejected{{Line: 2, Offset: 14, Raw: []byte("1,,NA,"), Reason: `column "d": cannot parse "" as date`}},
		},
		{
			name:    "spaces around non-string values",
			content: " 7 ,  x , true ,2024-01-31 \n",
			rows:    []string{`7|"  x "|true|d19753`},
		},
		{
			name:    "bad values",
			content: "1.5,x,true,2024-01-31\n1,x,yes,2024-01-31\n1,x,true,2024-02-30\n99999999999999999999,x,true,2024-01-01\n",
			rejects: []Rejected{
				{Line: 1, Offset: 0, Raw: []byte("1.5,x,true,2024-01-31"), Reason: `column "a": cannot parse "1.5" as int64`},
				{Line: 2, Offset: 22, Raw: []byte("1,x,yes,2024-01-31"), Reason: `column "c": cannot parse "yes" as bool`},
				{Line: 3, Offset: 41, Raw: []byte("1,x,true,2024-02-30"), Reason: `column "d": cannot parse "2024-02-30" as date`},
				{Line: 4, Offset: 61, Raw: []byte("99999999999999999999,x,true,2024-01-01"), Reason: `column "a": cannot parse "99999999999999999999" as int64`},
			},
		},
		{
			name:    "bare quote and too few fields",
			content: "1,x\"y,true,2024-01-31\n1,x\n",
			rejects: []Rejected{
				{Line: 1, Offset: 0, Raw: []byte("1,x\"y,true,2024-01-31"), Reason: `bare " in a non-quoted field at line 1 (quote the whole field and double each " inside it, as in "say ""hi""")`},
				{Line: 2, Offset: 22, Raw: []byte("1,x"), Reason: "wrong number of fields: expected 4, got 2"},
			},
		},
		{
			name:    "invalid UTF-8 and long values",
			content: "1,\xff\xfe,true,2024-01-31\n" + strings.Repeat("9", 70) + ",x,true,2024-01-31\n1,x,true,2024-01-31 " + strings.Repeat("é", 40) + "\n",
			rejects: []Rejected{
				{Line: 1, Offset: 0, Raw: []byte("1,\xff\xfe,true,2024-01-31"), Reason: `column "b": invalid UTF-8 in "\xff\xfe"`},
				{Line: 2, Offset: 21, Raw: []byte(strings.Repeat("9", 70) + ",x,true,2024-01-31"), Reason: `column "a": cannot parse "` + strings.Repeat("9", 64) + `"… as int64`},
				{Line: 3, Offset: 110, Raw: []byte("1,x,true,2024-01-31 " + strings.Repeat("é", 40)), Reason: `column "d": cannot parse "2024-01-31 ` + strings.Repeat("é", 26) + `"… as date`},
			},
		},
		{
			name:    "byte order mark",
			content: "\xEF\xBB\xBF1,x,true,2024-01-31\n2,x\n",
			rows:    []string{`1|"x"|true|d19753`},
			rejects: []Rejected{{Line: 2, Offset: 23, Raw: []byte("2,x"), Reason: "wrong number of fields: expected 4, got 2"}},
		},
		{
			name:    "empty file",
			content: "",
		},
		{
			name:    "header only",
			content: "a,b,c,d\n",
			opts:    CSVOptions{Header: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			f, size := writeFile(t, tc.content)
			rg := Range{Start: 0, End: size, StartLine: 1}
			r, err := NewCSVReader(f, rg, 0, 1, schema, tc.opts, 10, mem)
			if err != nil {
				t.Fatal(err)
			}
			res := drain(t, r, 10)
			if !reflect.DeepEqual(res.rows, tc.rows) && (len(res.rows) > 0 || len(tc.rows) > 0) {
				t.Errorf("rows = %q, want %q", res.rows, tc.rows)
			}
			if !reflect.DeepEqual(res.rejects, tc.rejects) {
				t.Errorf("rejects =\n%+v\nwant\n%+v", res.rejects, tc.rejects)
			}
			// The same through PlanCSVRanges with tiny ranges.
			ranges, err := PlanCSVRanges(f, size, 1, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var all result
			for _, rg := range ranges {
				r, err := NewCSVReader(f, rg, rg.Start, rg.StartLine, schema, tc.opts, 10, mem)
				if err != nil {
					t.Fatal(err)
				}
				res := drain(t, r, 10)
				all.rows = append(all.rows, res.rows...)
				all.rejects = append(all.rejects, res.rejects...)
			}
			if !reflect.DeepEqual(all.rows, res.rows) || !reflect.DeepEqual(all.rejects, res.rejects) {
				t.Errorf("ranged read differs: %q %+v", all.rows, all.rejects)
			}
		})
	}
}

func TestCSVMultilineRecords(t *testing.T) {
	content := "a,b\n1,\"two\nlines\"\n\n2,\"x\n\n\"\"y\"\"\"\n3,\"never closed\n4,ok\n5,\"a\nb\",extra\n6,z"
	schema := Schema{{Name: "a", Type: "int64"}, {Name: "b", Type: "string"}}
	f, size := writeFile(t, content)
	mem := checkedMem(t)
	r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, schema, CSVOptions{Header: true}, 100, mem)
	if err != nil {
		t.Fatal(err)
	}
	res := drain(t, r, 100)
	wantRows := []string{`1|"two\nlines"`, `2|"x\n\n\"y\""`, `4|"ok"`, `6|"z"`}
	if !reflect.DeepEqual(res.rows, wantRows) {
		t.Errorf("rows = %q, want %q", res.rows, wantRows)
	}
	off := func(s string) int64 { return int64(strings.Index(content, s)) }
	wantRejects := []Rejected{
		{Line: 8, Offset: off("3,"), Raw: []byte(`3,"never closed`), Reason: `quoted field opened at line 8 ends at line 10 with a " followed by 'a': a closing " is probably missing at line 8, or a " inside the field is not doubled; only line 8 is rejected, reading goes on at line 9`},
		{Line: 10, Offset: off("5,"), Raw: []byte("5,\"a\nb\",extra"), Reason: "wrong number of fields: expected 2, got 3"},
	}
	if !reflect.DeepEqual(res.rejects, wantRejects) {
		t.Errorf("rejects =\n%+v\nwant\n%+v", res.rejects, wantRejects)
	}
	if o, l := r.Position(); o != size || l != 12 {
		t.Errorf("position = %d, %d", o, l)
	}
}

func TestCSVLongLines(t *testing.T) {
	long := strings.Repeat("é", 300<<10) // longer than the line buffer
	content := "1," + long + "\n2,\"" + long + "\n3,\"" + long + "\"\n"
	schema := Schema{{Name: "a", Type: "int64"}, {Name: "b", Type: "string"}}
	f, size := writeFile(t, content)
	for _, batch := range []int{1, 100} {
		mem := checkedMem(t)
		r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, schema, CSVOptions{}, batch, mem)
		if err != nil {
			t.Fatal(err)
		}
		res := drain(t, r, batch)
		if len(res.rows) != 2 || res.rows[0] != "1|"+fmt.Sprintf("%q", long) || res.rows[1] != "3|"+fmt.Sprintf("%q", long) {
			t.Errorf("batch %d: %d rows", batch, len(res.rows))
		}
		if len(res.rejects) != 1 || res.rejects[0].Line != 2 || res.rejects[0].Offset != int64(3+len(long)) || string(res.rejects[0].Raw) != "2,\""+long {
			t.Errorf("batch %d: rejects %d", batch, len(res.rejects))
		}
	}
}

func TestReadCSVHeader(t *testing.T) {
	tests := []struct {
		content string
		opts    CSVOptions
		want    []string
		err     bool
	}{
		{content: "a,b,\"c,d\"\n1,2,3\n", want: []string{"a", "b", "c,d"}},
		{content: "\xEF\xBB\xBFa;b\r\n", opts: CSVOptions{Delimiter: ';'}, want: []string{"a", "b"}},
		{content: "x", want: []string{"x"}},
		{content: "\"a\nb\",c\n", want: []string{"a\nb", "c"}},
		{content: "\n\r\n\"a\r\nb\";c\r\n1;2\r\n", opts: CSVOptions{Delimiter: ';'}, want: []string{"a\r\nb", "c"}},
		{content: "\"a\n", err: true},
		{content: "", err: true},
		{content: "\n", err: true},
		{content: "a,b", opts: CSVOptions{Delimiter: '"'}, err: true},
	}
	for _, tc := range tests {
		got, err := ReadCSVHeader(strings.NewReader(tc.content), tc.opts)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ReadCSVHeader(%q) = %q, %v", tc.content, got, err)
		}
	}
}

func TestInferCSV(t *testing.T) {
	tests := []struct {
		name    string
		content string
		opts    CSVOptions
		sample  int
		want    Schema
	}{
		{
			name: "types over several rows",
			content: "i,f,b,ts,d,s,n,mixed\n" +
				"1,1,true,2024-01-01T10:00:00Z,2024-01-01,x,,1\n" +
				"2,1.5,false,2024-01-01 10:00:00Z,2024-02-29,y,,true\n" +
				"-3,,TRUE,2024-01-01T10:00:00.123456+02:00,,1,,2024-01-01\n" +
				"1,2,3\n", // wrong field count: ignored
			opts: CSVOptions{Header: true},
			want: Schema{{Name: "i", Type: "int64", Strict: true}, {Name: "f", Type: "float64", Strict: true}, {Name: "b", Type: "bool", Strict: true}, {Name: "ts", Type: "timestamp", Strict: true}, {Name: "d", Type: "date", Strict: true}, {Name: "s", Type: "string"}, {Name: "n", Type: "string"}, {Name: "mixed", Type: "string"}},
		},
		{
			name:    "no header: names and most common width",
			content: "1,a\n2,b,c\n3,c\n",
			want:    Schema{{Name: "col_1", Type: "int64", Strict: true}, {Name: "col_2", Type: "string"}},
		},
		{
			name:    "sample limit",
			content: "a\n1\n2\nx\n",
			opts:    CSVOptions{Header: true},
			sample:  2,
			want:    Schema{{Name: "a", Type: "int64", Strict: true}},
		},
		{
			name:    "bool from 0 and 1 is int64, t/f stay strings, True/FALSE are bool",
			content: "a,b,c\n0,t,True\n1,f,FALSE\n",
			opts:    CSVOptions{Header: true},
			want:    Schema{{Name: "a", Type: "int64", Strict: true}, {Name: "b", Type: "string"}, {Name: "c", Type: "bool", Strict: true}},
		},
		{
			name:    "duplicate and empty names, custom nulls",
			content: "a,a,\nNA,1,x\n",
			opts:    CSVOptions{Header: true, NullValues: []string{"NA"}},
			want:    Schema{{Name: "a", Type: "string"}, {Name: "a_2", Type: "int64", Strict: true}, {Name: "col_3", Type: "string"}},
		},
		{
			name:    "quoted line breaks, quoted numbers, BOM",
			content: "\xEF\xBB\xBFid,\"note\r\nline\"\r\n\"1\",\"a\nb\"\r\n\"2\",\"\"\r\n",
			opts:    CSVOptions{Header: true},
			want:    Schema{{Name: "id", Type: "int64", Strict: true}, {Name: "note\r\nline", Type: "string"}},
		},
		{
			name:    "tab delimiter, quote error rows ignored",
			content: "x\ty\n1\t2.5\n\"bad\t3\n",
			opts:    CSVOptions{Header: true, Delimiter: '\t'},
			want:    Schema{{Name: "x", Type: "int64", Strict: true}, {Name: "y", Type: "float64", Strict: true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InferCSV(strings.NewReader(tc.content), tc.opts, tc.sample)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if _, err := got.Arrow(); err != nil {
				t.Errorf("inferred schema is unusable: %v", err)
			}
		})
	}
	if _, err := InferCSV(strings.NewReader(""), CSVOptions{}, 10); err == nil {
		t.Error("InferCSV of an empty input: no error")
	}
}

// TestInferCSVLossless: which texts each inferred type accepts. A column
// takes a type only when every value reads as that type without change;
// the values are then read back to show what they become.
func TestInferCSVLossless(t *testing.T) {
	tests := []struct {
		values []string
		typ    string
		rows   []string // read back with the inferred schema
	}{
		{[]string{"0", "7", "-7", "9223372036854775807", "-9223372036854775808", " 42 "}, "int64",
			[]string{"0", "7", "-7", "9223372036854775807", "-9223372036854775808", "42"}},
		{[]string{"08123", "00501"}, "string", []string{`"08123"`, `"00501"`}},
		{[]string{"1", "00"}, "string", []string{`"1"`, `"00"`}},
		{[]string{"-0"}, "string", []string{`"-0"`}},
		{[]string{"+1"}, "string", []string{`"+1"`}},
		{[]string{"1e5"}, "string", []string{`"1e5"`}},
		{[]string{"9223372036854775808"}, "string", []string{`"9223372036854775808"`}},
		{[]string{"1", "12345678901234567890"}, "string", []string{`"1"`, `"12345678901234567890"`}},
		{[]string{"1_000"}, "string", []string{`"1_000"`}},
		{[]string{"1.5", "-0.25", "12.50", "0.30000000000000004", "100", "0.0", "123456789.125"}, "float64",
			[]string{"1.5", "-0.25", "12.5", "0.30000000000000004", "100", "0", "1.23456789125e+08"}},
		{[]string{"3.14159265358979323846"}, "string", []string{`"3.14159265358979323846"`}},
		{[]string{"9007199254740993.5"}, "string", []string{`"9007199254740993.5"`}},
		{[]string{"1.5", "9007199254740993"}, "string", []string{`"1.5"`, `"9007199254740993"`}},
		{[]string{"-0.0"}, "string", []string{`"-0.0"`}},
		{[]string{"1."}, "string", []string{`"1."`}},
		{[]string{".5"}, "string", []string{`".5"`}},
		{[]string{"00.5"}, "string", []string{`"00.5"`}},
		{[]string{"1.5E3"}, "string", []string{`"1.5E3"`}},
		{[]string{"NaN"}, "string", []string{`"NaN"`}},
		{[]string{"Inf"}, "string", []string{`"Inf"`}},
		{[]string{"true", "false", "TRUE", "FALSE", "True", "False"}, "bool",
			[]string{"true", "false", "true", "false", "true", "false"}},
		{[]string{"t", "f"}, "string", []string{`"t"`, `"f"`}},
		{[]string{"yes"}, "string", []string{`"yes"`}},
		{[]string{"tRUE"}, "string", []string{`"tRUE"`}},
		{[]string{"2024-01-01T10:00:00Z", "2024-01-01 10:00:00+02:00", "2024-01-01T10:00:00.123456Z", "2024-01-01T10:00:00.5-01:30"}, "timestamp",
			[]string{"ts1704103200000000", "ts1704096000000000", "ts1704103200123456", "ts1704108600500000"}},
		{[]string{"2024-01-01T10:00:00"}, "string", []string{`"2024-01-01T10:00:00"`}},
		{[]string{"2024-01-01 10:00:00"}, "string", []string{`"2024-01-01 10:00:00"`}},
		{[]string{"2024-01-01T10:00:00.1234567Z"}, "string", []string{`"2024-01-01T10:00:00.1234567Z"`}},
		{[]string{"2024-01-01T10:00:00z"}, "string", []string{`"2024-01-01T10:00:00z"`}},
		{[]string{"2024-02-29", "1969-12-31"}, "date", []string{"d19782", "d-1"}},
		{[]string{"2023-02-29"}, "string", []string{`"2023-02-29"`}},
		{[]string{"2024-1-5"}, "string", []string{`"2024-1-5"`}},
	}
	for _, tc := range tests {
		content := "v\n" + strings.Join(tc.values, "\n") + "\n"
		schema, err := InferCSV(strings.NewReader(content), CSVOptions{Header: true}, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := Schema{{Name: "v", Type: tc.typ, Strict: tc.typ != "string"}}
		if !reflect.DeepEqual(schema, want) {
			t.Errorf("%q: inferred %v, want %v", tc.values, schema, want)
			continue
		}
		mem := checkedMem(t)
		f, size := writeFile(t, content)
		r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, schema, CSVOptions{Header: true}, 100, mem)
		if err != nil {
			t.Fatal(err)
		}
		res := drain(t, r, 100)
		if len(res.rejects) > 0 || !reflect.DeepEqual(res.rows, tc.rows) {
			t.Errorf("%q read back as %q %+v, want %q", tc.values, res.rows, res.rejects, tc.rows)
		}
	}
}

// TestCSVStrictAfterSample: a value after the inference sample that the
// inferred type would change rejects its record instead; an explicit
// (lenient) schema converts it.
func TestCSVStrictAfterSample(t *testing.T) {
	content := "zip,amount,ok\n12345,1.5,true\n08123,2.50,FALSE\n1,1e3,t\n"
	schema, err := InferCSV(strings.NewReader(content), CSVOptions{Header: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := Schema{{Name: "zip", Type: "int64", Strict: true}, {Name: "amount", Type: "float64", Strict: true}, {Name: "ok", Type: "bool", Strict: true}}
	if !reflect.DeepEqual(schema, want) {
		t.Fatalf("inferred %v", schema)
	}
	mem := checkedMem(t)
	f, size := writeFile(t, content)
	r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, schema, CSVOptions{Header: true}, 100, mem)
	if err != nil {
		t.Fatal(err)
	}
	res := drain(t, r, 100)
	const hint = " without changing it (an inferred type keeps every value as written; set an explicit schema to convert such values)"
	wantRejects := []Rejected{
		{Line: 3, Offset: 29, Raw: []byte("08123,2.50,FALSE"), Reason: `column "zip": cannot parse "08123" as int64` + hint},
		{Line: 4, Offset: 46, Raw: []byte("1,1e3,t"), Reason: `column "amount": cannot parse "1e3" as float64` + hint},
	}
	if !reflect.DeepEqual(res.rows, []string{"12345|1.5|true"}) || !reflect.DeepEqual(res.rejects, wantRejects) {
		t.Errorf("rows %q rejects\n%+v\nwant\n%+v", res.rows, res.rejects, wantRejects)
	}
	for i := range schema {
		schema[i].Strict = false
	}
	r, err = NewCSVReader(f, Range{0, size, 1}, 0, 1, schema, CSVOptions{Header: true}, 100, mem)
	if err != nil {
		t.Fatal(err)
	}
	res = drain(t, r, 100)
	if want := []string{"12345|1.5|true", "8123|2.5|false", "1|1000|true"}; len(res.rejects) > 0 || !reflect.DeepEqual(res.rows, want) {
		t.Errorf("lenient: rows %q rejects %+v", res.rows, res.rejects)
	}
}

func TestPlanRanges(t *testing.T) {
	tests := []struct {
		name    string
		content string
		target  int64
		header  bool
		want    []Range
	}{
		{"empty", "", 10, false, nil},
		{"header only", "a,b\n", 10, true, nil},
		{"header without newline", "a,b", 10, true, nil},
		{"one range", "a\nb\nc\n", 0, false, []Range{{0, 6, 1}}},
		{"one range after header", "h\nb\nc\n", -1, true, []Range{{2, 6, 2}}},
		{"line per range", "a\nb\nc", 1, false, []Range{{0, 2, 1}, {2, 4, 2}, {4, 5, 3}}},
		{"cut inside a line", "aaaa\nbb\ncccc\nd\n", 3, false, []Range{{0, 5, 1}, {5, 8, 2}, {8, 13, 3}, {13, 15, 4}}},
		{"cut right after newline", "ab\ncd\nef\n", 3, false, []Range{{0, 3, 1}, {3, 6, 2}, {6, 9, 3}}},
		{"no newline after cut", "abcdef", 2, false, []Range{{0, 6, 1}}},
		{"blank lines counted", "h\n\n\n\nx\n\n\ny\n", 3, true, []Range{{2, 5, 2}, {5, 8, 5}, {8, 11, 7}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, size := writeFile(t, tc.content)
			got, err := PlanRanges(f, size, tc.target, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	// A file larger than the read buffer, with varied targets.
	var sb strings.Builder
	for i := 0; sb.Len() < 3*planBufSize+123; i++ {
		fmt.Fprintf(&sb, "%d,%s\n", i, strings.Repeat("x", i%50))
	}
	data := []byte(sb.String())
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, size := openFile(t, p)
	for _, target := range []int64{1, 1000, planBufSize - 1, planBufSize, planBufSize + 1, 5 * planBufSize} {
		for _, header := range []bool{false, true} {
			ranges, err := PlanRanges(f, size, target, header)
			if err != nil {
				t.Fatal(err)
			}
			checkRanges(t, data, ranges, header)
			for _, r := range ranges[:len(ranges)-1] {
				if r.End-r.Start < target {
					t.Fatalf("target %d: range %+v shorter than the target", target, r)
				}
			}
		}
	}
	if _, err := PlanRanges(f, size+10, 100, false); err == nil {
		t.Error("PlanRanges with a size past EOF: no error")
	}
}

func TestSchemaArrow(t *testing.T) {
	s := Schema{{Name: "a", Type: "int64"}, {Name: "b", Type: "float64"}, {Name: "c", Type: "bool"}, {Name: "d", Type: "string"}, {Name: "e", Type: "timestamp"}, {Name: "f", Type: "date"}}
	as, err := s.Arrow()
	if err != nil {
		t.Fatal(err)
	}
	want := "schema:\n  fields: 6\n    - a: type=int64, nullable\n    - b: type=float64, nullable\n    - c: type=bool, nullable\n    - d: type=utf8, nullable\n    - e: type=timestamp[us, tz=UTC], nullable\n    - f: type=date32, nullable"
	if as.String() != want {
		t.Errorf("got\n%s\nwant\n%s", as, want)
	}
	for _, bad := range []Schema{nil, {{Name: "a", Type: "int"}}, {{Name: "", Type: "int64"}}, {{Name: "a", Type: "int64"}, {Name: "a", Type: "string"}}} {
		if _, err := bad.Arrow(); !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("%v.Arrow() error = %v", bad, err)
		}
		if _, err := NewCSVReader(bytes.NewReader(nil), Range{}, 0, 1, bad, CSVOptions{}, 1, memory.DefaultAllocator); err == nil {
			t.Errorf("NewCSVReader with schema %v: no error", bad)
		}
	}
	for _, typ := range []string{"int64", "float64", "bool", "string", "timestamp", "date"} {
		if !ValidType(typ) {
			t.Errorf("ValidType(%q) = false", typ)
		}
	}
	if ValidType("int32") || ValidType("") {
		t.Error("ValidType accepts unknown types")
	}
}

func TestRejectsAreBoundedPerBatch(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 95; i++ {
		fmt.Fprintf(&sb, "%d;bad\n", i)
	}
	sb.WriteString("1,good\n")
	content := sb.String()
	f, size := writeFile(t, content)
	schema := Schema{{Name: "a", Type: "int64"}, {Name: "b", Type: "string"}}
	mem := checkedMem(t)
	r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, schema, CSVOptions{}, 10, mem)
	if err != nil {
		t.Fatal(err)
	}
	var calls, rejects int
	var rows []string
	for {
		rec, rej, err := r.Next()
		calls++
		if len(rej) > 10 {
			t.Fatalf("call %d returned %d rejects, more than the batch size", calls, len(rej))
		}
		for i, rj := range rej {
			if want := int64(rejects + i + 1); rj.Line != want {
				t.Fatalf("reject line %d, want %d", rj.Line, want)
			}
		}
		rejects += len(rej)
		if rec != nil {
			rows = append(rows, rowStrings(t, rec)...)
			rec.Release()
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// Resuming here works too.
		off, line := r.Position()
		if want := int64(strings.Index(content, fmt.Sprintf("\n%d;", rejects)) + 1); rejects < 95 && (off != want || line != int64(rejects+1)) {
			t.Fatalf("position %d/%d after %d rejects", off, line, rejects)
		}
	}
	if rejects != 95 || !reflect.DeepEqual(rows, []string{`1|"good"`}) || calls < 10 {
		t.Errorf("%d rejects, rows %q, %d calls", rejects, rows, calls)
	}
}

func TestCSVMultilineRecordTooLong(t *testing.T) {
	defer func(n int) { maxRecordBytes = n }(maxRecordBytes)
	maxRecordBytes = 100
	var sb strings.Builder
	sb.WriteString("1,\"open\n")
	for i := 2; i < 30; i++ {
		fmt.Fprintf(&sb, "%d,line %d\n", i, i)
	}
	sb.WriteString("30,\"closed\nfield\"\n")
	content := sb.String()
	f, size := writeFile(t, content)
	mem := checkedMem(t)
	r, err := NewCSVReader(f, Range{0, size, 1}, 0, 1, Schema{{Name: "a", Type: "int64"}, {Name: "b", Type: "string"}}, CSVOptions{}, 7, mem)
	if err != nil {
		t.Fatal(err)
	}
	res := drain(t, r, 7)
	if len(res.rejects) != 1 || res.rejects[0].Line != 1 || string(res.rejects[0].Raw) != `1,"open` || !strings.Contains(res.rejects[0].Reason, "quote") {
		t.Fatalf("rejects %+v", res.rejects)
	}
	if len(res.rows) != 29 || res.rows[0] != `2|"line 2"` || res.rows[28] != `30|"closed\nfield"` {
		t.Fatalf("%d rows: %q", len(res.rows), res.rows)
	}
	if o, l := r.Position(); o != size || l != 32 {
		t.Fatalf("position %d, %d", o, l)
	}
}

// TestCSVParallelRanges reads the ranges of one file concurrently, as the
// connector does.
func TestCSVParallelRanges(t *testing.T) {
	mem := checkedMem(t)
	recs := genRecords(t, mem, 5000, 5, false)
	defer releaseAll(recs)
	f, size, _ := writeCSV(t, recs, ',', true)
	ranges, err := PlanCSVRanges(f, size, 8<<10, CSVOptions{Header: true})
	if err != nil {
		t.Fatal(err)
	}
	type out struct {
		rows []string
		err  error
	}
	work := make(chan Range)
	results := make(chan out)
	for w := 0; w < 2; w++ {
		go func() {
			for rg := range work {
				r, err := NewCSVReader(f, rg, rg.Start, rg.StartLine, testSchema, CSVOptions{Header: true}, 300, mem)
				if err != nil {
					results <- out{err: err}
					continue
				}
				var o out
				for {
					rec, rej, err := r.Next()
					if len(rej) > 0 {
						o.err = fmt.Errorf("reject %+v", rej[0])
					}
					if rec != nil {
						o.rows = append(o.rows, rowStrings(t, rec)...)
						rec.Release()
					}
					if err != nil {
						if !errors.Is(err, io.EOF) {
							o.err = err
						}
						break
					}
				}
				results <- o
			}
		}()
	}
	go func() {
		for _, rg := range ranges {
			work <- rg
		}
		close(work)
	}()
	var got []string
	for range ranges {
		o := <-results
		if o.err != nil {
			t.Fatal(o.err)
		}
		got = append(got, o.rows...)
	}
	sameMultiset(t, got, allRows(t, recs))
}

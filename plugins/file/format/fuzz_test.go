package format

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The fuzz tests run as normal tests on their seed corpus
// (testdata/fuzz/<name>); to search for new failures:
//
//	go test ./plugins/file/format -run '^$' -fuzz FuzzCSV -fuzztime 60s
//
// and likewise for FuzzCSVFraming, FuzzJSONLines and FuzzJSONArray.

var fuzzDelimiters = []rune{',', ';', '\t', '|', '§'}

// readAll reads every range with a fresh reader, checking the reader
// contract on the way: positions never go back, rejects lie inside the
// file at increasing offsets with their exact line number and raw text.
func readAll(t *testing.T, data []byte, ranges []Range, open func(rg Range, off, line int64) (RecordReader, error)) result {
	t.Helper()
	var all result
	lastOff := int64(-1)
	for _, rg := range ranges {
		r, err := open(rg, rg.Start, rg.StartLine)
		if err != nil {
			t.Fatalf("open %+v: %v", rg, err)
		}
		prevOff, prevLine := r.Position()
		for calls := 0; ; calls++ {
			if calls > len(data)+10 {
				t.Fatalf("range %+v: no end after %d calls", rg, calls)
			}
			rec, rej, err := r.Next()
			for _, rj := range rej {
				if rj.Offset <= lastOff || rj.Offset < rg.Start || rj.Offset >= rg.End {
					t.Fatalf("range %+v: reject at offset %d after %d", rg, rj.Offset, lastOff)
				}
				lastOff = rj.Offset
				if end := rj.Offset + int64(len(rj.Raw)); end > int64(len(data)) || !bytes.Equal(data[rj.Offset:end], rj.Raw) {
					t.Fatalf("reject %+v: Raw is not the file's text at its offset", rj)
				}
				if want := 1 + int64(bytes.Count(data[:rj.Offset], newline)); rj.Line != want {
					t.Fatalf("reject %+v: line %d, want %d", rj, rj.Line, want)
				}
			}
			all.rejects = append(all.rejects, rej...)
			if rec != nil {
				if rec.NumRows() == 0 {
					t.Fatal("empty record")
				}
				all.rows = append(all.rows, rowStrings(t, rec)...)
				rec.Release()
			}
			off, line := r.Position()
			if off < prevOff || line < prevLine {
				t.Fatalf("range %+v: position went back from %d/%d to %d/%d", rg, prevOff, prevLine, off, line)
			}
			if want := 1 + int64(bytes.Count(data[:min(off, int64(len(data)))], newline)); line != want {
				t.Fatalf("range %+v: position %d on line %d, want line %d", rg, off, line, want)
			}
			prevOff, prevLine = off, line
			if errors.Is(err, io.EOF) {
				if off < rg.End {
					t.Fatalf("range %+v: ended at %d", rg, off)
				}
				break
			}
			if err != nil {
				t.Fatalf("range %+v: %v", rg, err)
			}
		}
	}
	return all
}

// sameResult compares rows and rejects, nil and empty alike.
func sameResult(a, b result) bool {
	return len(a.rows) == len(b.rows) && len(a.rejects) == len(b.rejects) &&
		(len(a.rows) == 0 || reflect.DeepEqual(a.rows, b.rows)) &&
		(len(a.rejects) == 0 || reflect.DeepEqual(a.rejects, b.rejects))
}

// checkRangesTile checks that ranges cover [start, size) in order.
func checkRangesTile(t *testing.T, ranges []Range, size int64) {
	t.Helper()
	for i, rg := range ranges {
		if rg.End <= rg.Start || (i > 0 && rg.Start != ranges[i-1].End) {
			t.Fatalf("ranges do not tile: %v", ranges)
		}
	}
	if len(ranges) > 0 && ranges[len(ranges)-1].End != size {
		t.Fatalf("ranges end at %d, not %d: %v", ranges[len(ranges)-1].End, size, ranges)
	}
}

// FuzzCSV reads arbitrary input with an inferred schema (else one string
// column), whole and cut into ranges of target bytes: both give the same
// rows and rejects, and resuming at a position after the first batch gives
// the rest.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("a,b\n1,\"x\ny\"\n2,\"\"\"\"\n"), uint8(0), uint16(3), true)
	f.Add([]byte("1;\"a\r\nb\";2024-01-01\r\n\"3\";x\"y;\r\n"), uint8(1), uint16(1), false)
	f.Fuzz(func(t *testing.T, data []byte, delim uint8, target uint16, header bool) {
		opts := CSVOptions{Delimiter: fuzzDelimiters[int(delim)%len(fuzzDelimiters)], Header: header}
		sx, err := newCSVSyntax(opts)
		if err != nil {
			t.Fatal(err)
		}
		size := int64(len(data))
		src := bytes.NewReader(data)
		schema, err := InferCSV(bytes.NewReader(data), opts, 0)
		if err != nil {
			schema = Schema{{Name: "a", Type: "string"}}
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		open := func(rg Range, off, line int64) (RecordReader, error) {
			return NewCSVReader(src, rg, off, line, schema, opts, 3, mem)
		}
		whole, err := PlanCSVRanges(src, size, 0, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkRangesTile(t, whole, size)
		want := readAll(t, data, whole, open)
		// Every record after the header is a row or a reject.
		records := 0
		if len(whole) > 0 {
			fs, err := newCSVSource(bytes.NewReader(data[whole[0].Start:]), whole[0].Start, whole[0].StartLine, 0)
			if err != nil {
				t.Fatal(err)
			}
			for {
				fr, _, err := fs.next(&sx)
				if err != nil {
					t.Fatal(err)
				}
				if fr.status == frameEOF {
					break
				}
				if fr.status != frameBlank {
					records++
				}
			}
		}
		if len(want.rows)+len(want.rejects) != records {
			t.Fatalf("%d rows and %d rejects for %d records", len(want.rows), len(want.rejects), records)
		}
		split, err := PlanCSVRanges(src, size, int64(target%64)+1, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkRangesTile(t, split, size)
		if len(whole) > 0 && (len(split) == 0 || split[0].Start != whole[0].Start) {
			t.Fatalf("split ranges %v, whole %v", split, whole)
		}
		got := readAll(t, data, split, open)
		if !sameResult(got, want) {
			t.Fatalf("ranges %v give\n%q %+v\nthe whole file\n%q %+v", split, got.rows, got.rejects, want.rows, want.rejects)
		}
		if len(whole) == 0 {
			return
		}
		// Resume after the first batch.
		rg := whole[0]
		r, err := open(rg, rg.Start, rg.StartLine)
		if err != nil {
			t.Fatal(err)
		}
		var head result
		rec, rej, err := r.Next()
		head.rejects = rej
		if rec != nil {
			head.rows = rowStrings(t, rec)
			rec.Release()
		}
		off, line := r.Position()
		r.(io.Closer).Close()
		if err == nil {
			rest := readAll(t, data, []Range{rg}, func(rg Range, _, _ int64) (RecordReader, error) { return open(rg, off, line) })
			head.rows = append(head.rows, rest.rows...)
			head.rejects = append(head.rejects, rest.rejects...)
		}
		if !sameResult(head, want) {
			t.Fatalf("resumed at %d/%d: %q %+v, want %q %+v", off, line, head.rows, head.rejects, want.rows, want.rejects)
		}
	})
}

// FuzzCSVFraming compares the record framing with encoding/csv (strict
// quotes, any field count) as an oracle: where encoding/csv reads the input
// without error, every record has the same fields (encoding/csv turns
// "\r\n" inside quoted fields into "\n"; this reader keeps it), and where it
// fails, some record has a quote error. Every byte is accounted for: the
// consumed lengths add up to the input.
func FuzzCSVFraming(f *testing.F) {
	f.Add([]byte("a,\"b\nc\",d\r\n\n\"e\"\"f\"\n"), uint8(0))
	f.Add([]byte("x\"y\n\"unterminated\n"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, delim uint8) {
		comma := fuzzDelimiters[int(delim)%len(fuzzDelimiters)]
		sx, err := newCSVSyntax(CSVOptions{Delimiter: comma})
		if err != nil {
			t.Fatal(err)
		}
		src, err := newCSVSource(bytes.NewReader(data), 0, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The same framing through a tiny buffer filled a byte at a time.
		defer func(n int) { minReadBuf = n }(minReadBuf)
		minReadBuf = 1
		small, err := newCSVSource(iotest.OneByteReader(bytes.NewReader(data)), 0, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		var records [][]string
		bad := false
		consumed := src.off
		lines := int64(1)
		for n := 0; ; n++ {
			if n > len(data)+1 {
				t.Fatal("framing does not end")
			}
			fr, rec, err := src.next(&sx)
			if err != nil {
				t.Fatal(err)
			}
			if fr.status == frameEOF {
				break
			}
			if fr.n <= 0 || len(rec) != fr.n || fr.lines != int64(bytes.Count(rec, newline)) {
				t.Fatalf("frame %+v of %q", fr, rec)
			}
			consumed += int64(fr.n)
			lines += fr.lines
			sfr, srec, err := small.next(&sx)
			if err != nil || sfr != fr || !bytes.Equal(srec, rec) {
				t.Fatalf("through a small buffer: %+v %q %v, want %+v %q", sfr, srec, err, fr, rec)
			}
			switch fr.status {
			case frameBad:
				bad = true
				if fr.lines == 1 && bytes.IndexByte(rec, '\n') != len(rec)-1 {
					t.Fatalf("a bad record consumes more than its first line: %q", rec)
				}
				if fr.reason(1) == "quote error" {
					t.Fatalf("no reason for %+v", fr)
				}
			case frameOK:
				fields, quoted, _, _ := sx.fields(rec, fr.quoted, nil, nil, nil, nil)
				if len(fields) != len(quoted) {
					t.Fatal("fields and quoted flags differ in number")
				}
				records = append(records, fields)
			case frameBlank:
			default:
				t.Fatalf("status %d", fr.status)
			}
		}
		if fr, _, err := small.next(&sx); err != nil || fr.status != frameEOF {
			t.Fatalf("through a small buffer: %+v %v after the end", fr, err)
		}
		if consumed != int64(len(data)) || src.off != consumed || src.line != lines {
			t.Fatalf("consumed %d of %d bytes (source at %d, line %d/%d)", consumed, len(data), src.off, src.line, lines)
		}
		// With a small record limit, too-long records are found alike
		// whatever the buffer holds.
		defer func(n int) { maxRecordBytes = n }(maxRecordBytes)
		maxRecordBytes = 1 + int(delim)%32
		big, _ := newCSVSource(bytes.NewReader(data), 0, 1, 0)
		small, _ = newCSVSource(iotest.OneByteReader(bytes.NewReader(data)), 0, 1, 1)
		for {
			fr, rec, err := big.next(&sx)
			sfr, srec, serr := small.next(&sx)
			if err != nil || serr != nil || fr != sfr || !bytes.Equal(rec, srec) {
				t.Fatalf("limit %d: %+v %q %v through a small buffer, %+v %q %v through a large one", maxRecordBytes, sfr, srec, serr, fr, rec, err)
			}
			if fr.status == frameEOF {
				break
			}
		}
		maxRecordBytes = 64 << 20

		oracle := bytes.TrimPrefix(data, utf8BOM)
		cr := csv.NewReader(bytes.NewReader(oracle))
		cr.Comma = comma
		cr.FieldsPerRecord = -1
		want, err := cr.ReadAll()
		if err != nil {
			if !bad {
				t.Fatalf("encoding/csv: %v; this reader: no quote error, records %q", err, records)
			}
			return
		}
		if bad {
			t.Fatalf("encoding/csv reads %q; this reader finds a quote error", want)
		}
		for _, rec := range records {
			for i := range rec {
				rec[i] = strings.ReplaceAll(rec[i], "\r\n", "\n")
			}
		}
		if len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(records, want) {
			t.Fatalf("records\n%q\nencoding/csv\n%q", records, want)
		}
	})
}

// FuzzJSONLines reads arbitrary input as JSON lines with an inferred schema
// (else one string column), whole and cut into ranges: the same rows and
// rejects.
func FuzzJSONLines(f *testing.F) {
	f.Add([]byte("{\"a\": 1, \"b\": \"x\"}\n{\"a\": 1.5}\nnot json\n"), uint16(5))
	f.Fuzz(func(t *testing.T, data []byte, target uint16) {
		size := int64(len(data))
		src := bytes.NewReader(data)
		schema, err := InferJSON(bytes.NewReader(data), false, 0)
		if err != nil {
			schema = Schema{{Name: "a", Type: "string"}}
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		open := func(rg Range, off, line int64) (RecordReader, error) {
			return NewJSONLinesReader(src, rg, off, line, schema, 3, mem)
		}
		whole, err := PlanRanges(src, size, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		want := readAll(t, data, whole, open)
		split, err := PlanRanges(src, size, int64(target%64)+1, false)
		if err != nil {
			t.Fatal(err)
		}
		checkRangesTile(t, split, size)
		got := readAll(t, data, split, open)
		if !sameResult(got, want) {
			t.Fatalf("ranges %v give\n%q %+v\nthe whole file\n%q %+v", split, got.rows, got.rejects, want.rows, want.rejects)
		}
	})
}

// FuzzJSONArray reads arbitrary input as a JSON array with an inferred
// schema (else one string column): no panic, the reader contract holds,
// and resuming at the position after every batch gives the same rest.
func FuzzJSONArray(f *testing.F) {
	f.Add([]byte("[{\"a\": 1}, {\"a\": \"x\"},\n 7, {\"b\": [1, {\"c\": \"]\"}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		src := bytes.NewReader(data)
		schema, err := InferJSON(bytes.NewReader(data), true, 0)
		if err != nil {
			schema = Schema{{Name: "a", Type: "string"}}
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		type step struct {
			rows    []string
			rejects []Rejected
			off     int64
			line    int64
			err     string
		}
		run := func(off, line int64) []step {
			r, err := NewJSONArrayReader(src, size, off, line, schema, 2, mem)
			if err != nil {
				t.Fatal(err)
			}
			var steps []step
			for calls := 0; ; calls++ {
				if calls > len(data)+10 {
					t.Fatal("no end")
				}
				rec, rej, err := r.Next()
				var s step
				s.rejects = rej
				if rec != nil {
					s.rows = rowStrings(t, rec)
					rec.Release()
				}
				s.off, s.line = r.Position()
				for _, rj := range rej {
					if end := rj.Offset + int64(len(rj.Raw)); end > size || !bytes.Equal(data[rj.Offset:end], rj.Raw) {
						t.Fatalf("reject %+v: Raw is not the file's text at its offset", rj)
					}
				}
				if err != nil {
					s.err = err.Error()
					if !errors.Is(err, io.EOF) && !errors.Is(err, ErrJSONSyntax) {
						t.Fatalf("error %v does not wrap ErrJSONSyntax", err)
					}
					steps = append(steps, s)
					r.(io.Closer).Close()
					return steps
				}
				if n := len(steps); n > 0 && (s.off < steps[n-1].off || s.line < steps[n-1].line) {
					t.Fatalf("position went back: %+v after %+v", s, steps[n-1])
				}
				steps = append(steps, s)
			}
		}
		all := run(0, 1)
		for i := 0; i+1 < len(all); i++ {
			rest := run(all[i].off, all[i].line)
			if !reflect.DeepEqual(rest, all[i+1:]) {
				t.Fatalf("resumed at %d/%d:\n%+v\nwant\n%+v", all[i].off, all[i].line, rest, all[i+1:])
			}
		}
	})
}

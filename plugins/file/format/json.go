package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrJSONSyntax is wrapped by the error a JSON array reader returns when the
// array itself is malformed.
var ErrJSONSyntax = errors.New("JSON syntax error")

// ---- JSON lines ----

// jsonLinesReader implements RecordReader for JSON lines.
type jsonLinesReader struct {
	src     *lineSource
	end     int64
	rows    *jsonRows
	bt      *batch
	done    bool
	err     error
	posOff  int64
	posLine int64
}

// NewJSONLinesReader returns a reader of the JSON-lines records (one object
// per line) starting in [rng.Start, rng.End) of f, beginning with the record
// at byte offset offset on line line (see NewCSVReader for the range and
// resume contract). Blank lines are skipped, unknown keys are ignored and
// missing keys are null. A line that is not a JSON object, or a value that
// cannot be converted to its column's type, is returned as a Rejected.
//
// Conversions: a JSON number fits int64 if it is integral and float64 always;
// true/false fit bool; a string is parsed like a CSV field for non-string
// columns (an empty string is then null); a number, boolean, object or array
// is kept as its JSON text in a string column.
func NewJSONLinesReader(f io.ReaderAt, rng Range, offset, line int64, schema Schema, batchSize int, mem memory.Allocator) (RecordReader, error) {
	if err := checkStart(rng, offset, line); err != nil {
		return nil, err
	}
	bt, err := newBatch(schema, batchSize, mem)
	if err != nil {
		return nil, fmt.Errorf("json lines reader: %w", err)
	}
	src, err := newLineSource(sectionFrom(f, offset), offset, line)
	if err != nil {
		bt.release()
		return nil, fmt.Errorf("json lines reader: %w", err)
	}
	return &jsonLinesReader{
		src:     src,
		end:     rng.End,
		rows:    newJSONRows(schema, bt.kinds),
		bt:      bt,
		posOff:  offset,
		posLine: line,
	}, nil
}

// Position implements RecordReader.
func (r *jsonLinesReader) Position() (int64, int64) { return r.posOff, r.posLine }

// Close releases the reader's builders. It is needed only when a reader is
// abandoned before Next returned io.EOF or an error.
func (r *jsonLinesReader) Close() error {
	r.bt.release()
	return nil
}

// Next implements RecordReader.
func (r *jsonLinesReader) Next() (arrow.RecordBatch, []Rejected, error) {
	if r.err != nil {
		return nil, nil, r.err
	}
	if r.done {
		return nil, nil, io.EOF
	}
	var rejects []Rejected
	for !r.bt.full() && len(rejects) < r.bt.size {
		start, startLine := r.src.off, r.src.line
		var l []byte
		var err error
		if start < r.end {
			l, err = r.src.next()
		} else {
			err = io.EOF
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.err = fmt.Errorf("json lines reader: read line %d: %w", startLine, err)
				r.bt.release()
				return nil, nil, r.err
			}
			r.done = true
			r.posOff, r.posLine = start, startLine
			rec := r.bt.flush()
			r.bt.release()
			if rec == nil {
				return nil, rejects, io.EOF
			}
			return rec, rejects, nil
		}
		content := trimEOL(l)
		obj := trimJSONSpace(content)
		if len(obj) == 0 {
			continue
		}
		reason, ok := "", json.Valid(obj)
		if !ok {
			reason = jsonSyntaxReason(obj)
		} else {
			reason, ok = r.rows.convert(obj)
		}
		if ok {
			r.bt.appendRow(r.rows.cells)
		} else {
			rejects = append(rejects, Rejected{
				Line:   startLine,
				Offset: start,
				Raw:    append([]byte(nil), content...),
				Reason: reason,
			})
		}
	}
	r.posOff, r.posLine = r.src.off, r.src.line
	return r.bt.flush(), rejects, nil
}

// ---- JSON array ----

// jsonArrayScanner splits a JSON array of values into elements, tracking the
// byte offset and line number of each.
type jsonArrayScanner struct {
	br   *bufio.Reader
	off  int64
	line int64
	// state
	started bool // the opening '[' has been consumed (or resuming)
	done    bool // the closing ']' has been consumed
	elem    []byte
}

func newJSONArrayScanner(r io.Reader, off, line int64) *jsonArrayScanner {
	s := &jsonArrayScanner{br: bufio.NewReaderSize(r, readBufSize), off: off, line: line, started: off > 0}
	if off == 0 {
		if p, err := s.br.Peek(3); err == nil && bytes.Equal(p, utf8BOM) {
			_, _ = s.br.Discard(3)
			s.off = 3
		}
	}
	return s
}

func (s *jsonArrayScanner) syntaxErr(format string, args ...any) error {
	return fmt.Errorf("%w at line %d (offset %d): %s", ErrJSONSyntax, s.line, s.off, fmt.Sprintf(format, args...))
}

// skipSpace consumes JSON whitespace. It returns the next byte without
// consuming it, or io.EOF.
func (s *jsonArrayScanner) skipSpace() (byte, error) {
	for {
		buf, err := s.br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, err
		}
		buf, _ = s.br.Peek(s.br.Buffered())
		i := 0
		for i < len(buf) && isJSONSpace(buf[i]) {
			if buf[i] == '\n' {
				s.line++
			}
			i++
		}
		s.off += int64(i)
		_, _ = s.br.Discard(i)
		if i < len(buf) {
			return buf[i], nil
		}
	}
}

func (s *jsonArrayScanner) consume(c byte) {
	_, _ = s.br.Discard(1)
	s.off++
	if c == '\n' {
		s.line++
	}
}

// next returns the next element's raw text (valid until the next call), its
// offset and line; io.EOF after the closing bracket. A malformed array is an
// error wrapping ErrJSONSyntax. After next returns an element, s.off/s.line
// are the position of the following element (or of the closing bracket).
func (s *jsonArrayScanner) next() (elem []byte, off, line int64, err error) {
	if s.done {
		return nil, 0, 0, io.EOF
	}
	c, err := s.skipSpace()
	if !s.started {
		if err != nil {
			if errors.Is(err, io.EOF) {
				// An empty (or all-blank) file holds no rows.
				s.done = true
				return nil, 0, 0, io.EOF
			}
			return nil, 0, 0, err
		}
		if c != '[' {
			return nil, 0, 0, s.syntaxErr("expected '[' at the start of a JSON array, got %q", c)
		}
		s.consume(c)
		s.started = true
		c, err = s.skipSpace()
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, 0, s.syntaxErr("unexpected end of input inside the array")
		}
		return nil, 0, 0, err
	}
	if c == ']' {
		s.consume(c)
		if err := s.finish(); err != nil {
			return nil, 0, 0, err
		}
		return nil, 0, 0, io.EOF
	}
	off, line = s.off, s.line
	if err := s.readValue(off, line); err != nil {
		return nil, 0, 0, err
	}
	if !json.Valid(s.elem) {
		var raw json.RawMessage
		uerr := json.Unmarshal(s.elem, &raw)
		return nil, 0, 0, fmt.Errorf("%w at line %d (offset %d): element: %w", ErrJSONSyntax, line, off, uerr)
	}
	// The separator.
	c, err = s.skipSpace()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, 0, s.syntaxErr("unexpected end of input, expected ',' or ']'")
		}
		return nil, 0, 0, err
	}
	switch c {
	case ',':
		s.consume(c)
		c, err = s.skipSpace()
		if err == nil && c == ']' {
			return nil, 0, 0, s.syntaxErr("trailing comma before ']'")
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, 0, err
		}
		// EOF here is reported by the next call.
	case ']':
		// Left for the next call, which also checks the end of the input.
	default:
		return nil, 0, 0, s.syntaxErr("expected ',' or ']' after an element, got %q", c)
	}
	return s.elem, off, line, nil
}

// finish checks that only whitespace follows the closing bracket.
func (s *jsonArrayScanner) finish() error {
	c, err := s.skipSpace()
	if err == nil {
		return s.syntaxErr("unexpected %q after the end of the array", c)
	}
	if !errors.Is(err, io.EOF) {
		return err
	}
	s.done = true
	return nil
}

// readValue reads one JSON value into s.elem, finding its end by bracket
// depth (strings skipped) or, for a scalar, by the next delimiter.
// off and line are the element's start, for errors.
func (s *jsonArrayScanner) readValue(off, line int64) error {
	s.elem = s.elem[:0]
	var (
		started, inStr, esc, scalar bool
		depth                       int
	)
	for {
		if _, err := s.br.Peek(1); err != nil {
			if errors.Is(err, io.EOF) {
				if scalar {
					return nil
				}
				return fmt.Errorf("%w at line %d (offset %d): unexpected end of input inside the element starting there", ErrJSONSyntax, line, off)
			}
			return err
		}
		buf, _ := s.br.Peek(s.br.Buffered())
		end := -1
	scan:
		for i := 0; i < len(buf); i++ {
			ch := buf[i]
			if !started {
				started = true
				switch ch {
				case '{', '[':
					depth = 1
				case '"':
					inStr = true
				default:
					scalar = true
					if ch == ',' || ch == ']' || ch == '}' {
						end = i + 1 // a lone delimiter: invalid, reported by json.Valid
						break scan
					}
				}
				continue
			}
			switch {
			case inStr:
				if esc {
					esc = false
				} else if ch == '\\' {
					esc = true
				} else if ch == '"' {
					inStr = false
					if depth == 0 {
						end = i + 1
						break scan
					}
				}
			case scalar:
				if isJSONSpace(ch) || ch == ',' || ch == ']' || ch == '}' {
					end = i
					break scan
				}
			default:
				switch ch {
				case '"':
					inStr = true
				case '{', '[':
					depth++
				case '}', ']':
					depth--
					if depth == 0 {
						end = i + 1
						break scan
					}
				}
			}
		}
		n := len(buf)
		if end >= 0 {
			n = end
		}
		chunk := buf[:n]
		s.elem = append(s.elem, chunk...)
		s.line += int64(bytes.Count(chunk, []byte{'\n'}))
		s.off += int64(n)
		_, _ = s.br.Discard(n)
		if end >= 0 {
			return nil
		}
	}
}

// jsonArrayReader implements RecordReader for a JSON array of objects.
type jsonArrayReader struct {
	sc      *jsonArrayScanner
	rows    *jsonRows
	bt      *batch
	done    bool
	err     error
	posOff  int64
	posLine int64
}

// NewJSONArrayReader returns a reader of a whole file of the given size
// holding one JSON array of objects (such a file is not splittable). offset
// and line are 0 and 1 to start, or a Position() value to resume: the byte
// offset and line of the next element. An element that is valid JSON but not
// an object, or that has a value not convertible to its column's type, is
// returned as a Rejected. A syntax error that breaks the array is returned
// as an error wrapping ErrJSONSyntax and naming the line. Values convert as
// for NewJSONLinesReader.
func NewJSONArrayReader(f io.ReaderAt, size int64, offset, line int64, schema Schema, batchSize int, mem memory.Allocator) (RecordReader, error) {
	if offset < 0 || offset > size {
		return nil, fmt.Errorf("json array reader: offset %d outside the file (size %d)", offset, size)
	}
	if line < 1 {
		return nil, fmt.Errorf("json array reader: start line %d is not positive", line)
	}
	bt, err := newBatch(schema, batchSize, mem)
	if err != nil {
		return nil, fmt.Errorf("json array reader: %w", err)
	}
	r := &jsonArrayReader{
		sc:      newJSONArrayScanner(io.NewSectionReader(f, offset, size-offset), offset, line),
		rows:    newJSONRows(schema, bt.kinds),
		bt:      bt,
		posOff:  offset,
		posLine: line,
	}
	if offset > 0 && offset == size {
		// Resuming at the end of the file: after the closing bracket, or
		// after a comma in a truncated array, which the scanner reports.
		c, err := lastNonSpace(f, offset)
		if err != nil {
			bt.release()
			return nil, fmt.Errorf("json array reader: %w", err)
		}
		if c == ']' {
			r.done = true
			bt.release()
		}
	}
	return r, nil
}

// lastNonSpace returns the last byte before offset that is not JSON
// whitespace (0 when there is none).
func lastNonSpace(f io.ReaderAt, offset int64) (byte, error) {
	var buf [4096]byte
	for end := offset; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, err := f.ReadAt(buf[:end-start], start)
		if n < int(end-start) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		for i := n - 1; i >= 0; i-- {
			if !isJSONSpace(buf[i]) {
				return buf[i], nil
			}
		}
		end = start
	}
	return 0, nil
}

// Position implements RecordReader.
func (r *jsonArrayReader) Position() (int64, int64) { return r.posOff, r.posLine }

// Close releases the reader's builders. It is needed only when a reader is
// abandoned before Next returned io.EOF or an error.
func (r *jsonArrayReader) Close() error {
	r.bt.release()
	return nil
}

// Next implements RecordReader.
func (r *jsonArrayReader) Next() (arrow.RecordBatch, []Rejected, error) {
	if r.err != nil {
		return nil, nil, r.err
	}
	if r.done {
		return nil, nil, io.EOF
	}
	var rejects []Rejected
	for !r.bt.full() && len(rejects) < r.bt.size {
		elem, off, line, err := r.sc.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.err = fmt.Errorf("json array reader: %w", err)
				r.bt.release()
				return nil, nil, r.err
			}
			r.done = true
			r.posOff, r.posLine = r.sc.off, r.sc.line
			rec := r.bt.flush()
			r.bt.release()
			if rec == nil {
				return nil, rejects, io.EOF
			}
			return rec, rejects, nil
		}
		if reason, ok := r.rows.convert(elem); ok {
			r.bt.appendRow(r.rows.cells)
		} else {
			rejects = append(rejects, Rejected{
				Line:   line,
				Offset: off,
				Raw:    append([]byte(nil), elem...),
				Reason: reason,
			})
		}
	}
	r.posOff, r.posLine = r.sc.off, r.sc.line
	return r.bt.flush(), rejects, nil
}

// ---- inference ----

// jsonTypes tracks the JSON types seen for one key.
type jsonTypes struct {
	bools, numbers, strings, complex bool
	// allInt: every number is an integer literal within int64; allFloat:
	// every number is the same decimal number as its float64 written back.
	allInt, allFloat bool
}

func (t *jsonTypes) observe(v []byte) {
	switch v[0] {
	case 'n':
	case 't', 'f':
		t.bools = true
	case '"':
		t.strings = true
	case '{', '[':
		t.complex = true
	default:
		if !t.numbers {
			t.allInt, t.allFloat = true, true
		}
		t.numbers = true
		s := bytesString(v)
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			t.allInt = false
		}
		if t.allFloat {
			f, err := strconv.ParseFloat(s, 64)
			t.allFloat = err == nil && sameDecimal(s, f)
		}
	}
}

func (t *jsonTypes) result() string {
	switch {
	case t.bools && !t.numbers && !t.strings && !t.complex:
		return TypeBool
	case t.numbers && !t.bools && !t.strings && !t.complex:
		if t.allInt {
			return TypeInt64
		}
		if t.allFloat {
			return TypeFloat64
		}
	}
	return TypeString
}

// InferJSON samples up to sampleRows objects from JSON lines (jsonArray false)
// or from a JSON array of objects (jsonArray true) and infers a schema.
// Columns are in order of first appearance. Types: JSON booleans give bool;
// numbers give int64 when every sampled value is an integer literal that fits
// int64, else float64 when float64 holds every sampled number without
// changing it (the float written back is the same decimal number: 1.50 and
// 1e2 qualify, 12345678901234567890 and 0.12345678901234567890 do not), else
// string (a number in a string column keeps its JSON text); strings, objects,
// arrays and mixed types give string. A key that is always null is string.
// Non-string columns are strict (see [Column]). Sampled lines that are not
// JSON objects are ignored, and so is the empty key, which cannot name a
// column. sampleRows <= 0 means DefaultSampleRows.
func InferJSON(r io.Reader, jsonArray bool, sampleRows int) (Schema, error) {
	if sampleRows <= 0 {
		sampleRows = DefaultSampleRows
	}
	var names []string
	types := map[string]*jsonTypes{}
	observe := func(obj []byte) error {
		m, ok := newJSONMembers(obj)
		if !ok {
			return nil
		}
		for {
			k, v, ok := m.next()
			if !ok {
				return nil
			}
			key, ok := jsonKey(k)
			if !ok || len(key) == 0 {
				continue // "" cannot name a column: ignored, like any key not in the schema
			}
			t := types[string(key)]
			if t == nil {
				t = &jsonTypes{}
				types[string(key)] = t
				names = append(names, string(key))
			}
			t.observe(v)
		}
	}
	if jsonArray {
		sc := newJSONArrayScanner(r, 0, 1)
		for n := 0; n < sampleRows; n++ {
			elem, _, _, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("infer json: %w", err)
			}
			if err := observe(elem); err != nil {
				return nil, err
			}
		}
	} else {
		src, err := newLineSource(r, 0, 1)
		if err != nil {
			return nil, fmt.Errorf("infer json: %w", err)
		}
		for n := 0; n < sampleRows; {
			l, err := src.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("infer json: %w", err)
			}
			obj := trimJSONSpace(l)
			if len(obj) == 0 {
				continue
			}
			n++
			if json.Valid(obj) {
				if err := observe(obj); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(names) == 0 {
		return nil, errors.New("infer json: no keys found in the sample")
	}
	s := make(Schema, len(names))
	for i, n := range names {
		typ := types[n].result()
		s[i] = Column{Name: n, Type: typ, Strict: typ != TypeString}
	}
	return s, nil
}

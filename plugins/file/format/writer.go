package format

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Writer encodes Arrow records to an output stream.
type Writer interface {
	// Write encodes every row of rec and returns the number of bytes
	// written. Everything is written to the underlying writer before Write
	// returns.
	Write(rec arrow.RecordBatch) (int64, error)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

const dateLayout = "2006-01-02"

// ---- CSV ----

type csvWriter struct {
	cw          countingWriter
	comma       []byte
	header      bool
	wroteHeader bool
	buf         []byte
	tmp         []byte
}

// NewCSVWriter returns a Writer of RFC 4180 CSV using the given delimiter (0
// means ','). When header is true a line with the column names is written
// before the first row, once. Lines end in "\n". A field is quoted when it
// holds the delimiter, a quote, a line break, starts with a space or a tab,
// or is an empty string; quotes inside are doubled. Nulls are empty
// unquoted fields, so that NewCSVReader reads null and "" back apart, except
// in a one-column file, where a null is written as "" so that the line is
// not blank (and reads back as the empty string in a string column).
// Timestamps are RFC 3339 with nanoseconds in UTC, dates 2006-01-02, floats
// the shortest text that reads back as the same float, without an exponent
// from 1e-6 to 1e21 (NaN, +Inf and -Inf as such).
func NewCSVWriter(w io.Writer, delimiter rune, header bool) Writer {
	if delimiter == 0 {
		delimiter = ','
	}
	return &csvWriter{cw: countingWriter{w: w}, comma: utf8.AppendRune(nil, delimiter), header: header}
}

// Write implements Writer.
func (c *csvWriter) Write(rec arrow.RecordBatch) (int64, error) {
	start := c.cw.n
	ncols := int(rec.NumCols())
	buf := c.buf[:0]
	if c.header && !c.wroteHeader {
		c.wroteHeader = true
		for i := 0; i < ncols; i++ {
			if i > 0 {
				buf = append(buf, c.comma...)
			}
			buf = c.appendField(buf, rec.ColumnName(i), ncols == 1)
		}
		buf = append(buf, '\n')
	}
	cols := rec.Columns()
	nrows := int(rec.NumRows())
	for i := 0; i < nrows; i++ {
		for j, col := range cols {
			if j > 0 {
				buf = append(buf, c.comma...)
			}
			if col.IsNull(i) {
				if ncols == 1 {
					// A blank line would be skipped by readers.
					buf = append(buf, '"', '"')
				}
				continue
			}
			c.tmp = c.format(c.tmp[:0], col, i)
			buf = c.appendField(buf, bytesString(c.tmp), true)
		}
		buf = append(buf, '\n')
		if len(buf) >= 64<<10 {
			if _, err := c.cw.Write(buf); err != nil {
				c.buf = buf[:0]
				return c.cw.n - start, fmt.Errorf("csv writer: %w", err)
			}
			buf = buf[:0]
		}
	}
	c.buf = buf[:0]
	if len(buf) > 0 {
		if _, err := c.cw.Write(buf); err != nil {
			return c.cw.n - start, fmt.Errorf("csv writer: %w", err)
		}
	}
	return c.cw.n - start, nil
}

// appendField appends s as a field, quoted when needed; quoteEmpty quotes
// the empty string.
func (c *csvWriter) appendField(b []byte, s string, quoteEmpty bool) []byte {
	if !c.needsQuotes(s, quoteEmpty) {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

func (c *csvWriter) needsQuotes(s string, quoteEmpty bool) bool {
	if s == "" {
		return quoteEmpty
	}
	if s[0] == ' ' || s[0] == '\t' || s == `\.` {
		return true
	}
	if strings.ContainsAny(s, "\"\r\n") {
		return true
	}
	if len(c.comma) == 1 {
		return strings.IndexByte(s, c.comma[0]) >= 0
	}
	return strings.Contains(s, bytesString(c.comma))
}

// format appends value i of col, not null, as text.
func (c *csvWriter) format(b []byte, col arrow.Array, i int) []byte {
	switch a := col.(type) {
	case *array.String:
		return append(b, a.Value(i)...)
	case *array.LargeString:
		return append(b, a.Value(i)...)
	case *array.Int64:
		return strconv.AppendInt(b, a.Value(i), 10)
	case *array.Int32:
		return strconv.AppendInt(b, int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(b, int64(a.Value(i)), 10)
	case *array.Int8:
		return strconv.AppendInt(b, int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(b, a.Value(i), 10)
	case *array.Uint32:
		return strconv.AppendUint(b, uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.AppendUint(b, uint64(a.Value(i)), 10)
	case *array.Uint8:
		return strconv.AppendUint(b, uint64(a.Value(i)), 10)
	case *array.Float64:
		return appendCSVFloat(b, a.Value(i), 64)
	case *array.Float32:
		return appendCSVFloat(b, float64(a.Value(i)), 32)
	case *array.Boolean:
		return strconv.AppendBool(b, a.Value(i))
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC().AppendFormat(b, time.RFC3339Nano)
	case *array.Date32:
		return a.Value(i).ToTime().UTC().AppendFormat(b, dateLayout)
	case *array.Date64:
		return a.Value(i).ToTime().UTC().AppendFormat(b, dateLayout)
	}
	return append(b, col.ValueStr(i)...)
}

// appendCSVFloat appends f as the JSON writer does, and NaN and infinities
// as NaN, +Inf and -Inf.
func appendCSVFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.AppendFloat(b, f, 'g', -1, bits)
	}
	return appendJSONFloat(b, f, bits)
}

// ---- JSON lines ----

type jsonLinesWriter struct {
	cw     countingWriter
	bw     *bufio.Writer
	schema *arrow.Schema
	keys   [][]byte // `{"name":` for the first column, `,"name":` for the others
	buf    []byte
}

// NewJSONLinesWriter returns a Writer of one JSON object per row, keys in
// schema order, nulls as null, int64 as JSON numbers, timestamps as RFC 3339
// strings with nanoseconds in UTC and dates as "2006-01-02" strings. NaN and
// infinite floats, which JSON cannot represent, are written as null. Types
// other than the package's column types are encoded with encoding/json from
// the array's GetOneForMarshal.
func NewJSONLinesWriter(w io.Writer) Writer {
	j := &jsonLinesWriter{cw: countingWriter{w: w}}
	j.bw = bufio.NewWriterSize(&j.cw, 256<<10)
	return j
}

func (j *jsonLinesWriter) setSchema(s *arrow.Schema) {
	if j.schema == s || (j.schema != nil && j.schema.Equal(s)) {
		return
	}
	j.schema = s
	j.keys = make([][]byte, s.NumFields())
	for i, f := range s.Fields() {
		var k []byte
		if i == 0 {
			k = append(k, '{')
		} else {
			k = append(k, ',')
		}
		k = appendJSONString(k, f.Name)
		j.keys[i] = append(k, ':')
	}
}

// Write implements Writer.
func (j *jsonLinesWriter) Write(rec arrow.RecordBatch) (int64, error) {
	start := j.cw.n
	j.setSchema(rec.Schema())
	cols := rec.Columns()
	nrows := int(rec.NumRows())
	buf := j.buf[:0]
	for i := 0; i < nrows; i++ {
		if len(cols) == 0 {
			buf = append(buf, '{')
		}
		for c, col := range cols {
			buf = append(buf, j.keys[c]...)
			var err error
			if buf, err = appendJSONValue(buf, col, i); err != nil {
				return j.cw.n - start, fmt.Errorf("json lines writer: row %d, column %q: %w", i, rec.ColumnName(c), err)
			}
		}
		buf = append(buf, '}', '\n')
		if len(buf) >= 64<<10 {
			if _, err := j.bw.Write(buf); err != nil {
				return j.cw.n - start, fmt.Errorf("json lines writer: %w", err)
			}
			buf = buf[:0]
		}
	}
	if _, err := j.bw.Write(buf); err != nil {
		return j.cw.n - start, fmt.Errorf("json lines writer: %w", err)
	}
	j.buf = buf[:0]
	if err := j.bw.Flush(); err != nil {
		return j.cw.n - start, fmt.Errorf("json lines writer: %w", err)
	}
	return j.cw.n - start, nil
}

// appendJSONValue appends value i of col as JSON.
func appendJSONValue(b []byte, col arrow.Array, i int) ([]byte, error) {
	if col.IsNull(i) {
		return append(b, "null"...), nil
	}
	switch a := col.(type) {
	case *array.String:
		return appendJSONString(b, a.Value(i)), nil
	case *array.LargeString:
		return appendJSONString(b, a.Value(i)), nil
	case *array.Int64:
		return strconv.AppendInt(b, a.Value(i), 10), nil
	case *array.Int32:
		return strconv.AppendInt(b, int64(a.Value(i)), 10), nil
	case *array.Int16:
		return strconv.AppendInt(b, int64(a.Value(i)), 10), nil
	case *array.Int8:
		return strconv.AppendInt(b, int64(a.Value(i)), 10), nil
	case *array.Uint64:
		return strconv.AppendUint(b, a.Value(i), 10), nil
	case *array.Uint32:
		return strconv.AppendUint(b, uint64(a.Value(i)), 10), nil
	case *array.Uint16:
		return strconv.AppendUint(b, uint64(a.Value(i)), 10), nil
	case *array.Uint8:
		return strconv.AppendUint(b, uint64(a.Value(i)), 10), nil
	case *array.Float64:
		return appendJSONFloat(b, a.Value(i), 64), nil
	case *array.Float32:
		return appendJSONFloat(b, float64(a.Value(i)), 32), nil
	case *array.Boolean:
		return strconv.AppendBool(b, a.Value(i)), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		b = append(b, '"')
		b = a.Value(i).ToTime(unit).UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), nil
	case *array.Date32:
		b = append(b, '"')
		b = a.Value(i).ToTime().UTC().AppendFormat(b, dateLayout)
		return append(b, '"'), nil
	case *array.Date64:
		b = append(b, '"')
		b = a.Value(i).ToTime().UTC().AppendFormat(b, dateLayout)
		return append(b, '"'), nil
	}
	v, err := json.Marshal(col.GetOneForMarshal(i))
	if err != nil {
		return b, err
	}
	return append(b, v...), nil
}

// appendJSONFloat appends f like encoding/json does; NaN and infinities
// become null.
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// U+2028 and U+2029 are escaped. HTML characters are not escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

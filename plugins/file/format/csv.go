package format

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CSVOptions describes the CSV dialect of a file.
type CSVOptions struct {
	// Delimiter separates fields; 0 means ','.
	Delimiter rune
	// Header tells that the first line of the file is a header. It matters
	// only for the range starting at offset 0 and for inference.
	Header bool
	// Multiline allows RFC 4180 quoted fields to contain newlines. Such files
	// cannot be split into byte ranges and must be read as one range.
	Multiline bool
	// NullValues lists field values read as null; nil means {""}. For
	// non-string columns a value is also null when it equals one of them
	// after trimming surrounding spaces and tabs.
	NullValues []string
}

// Rejected is one bad input record.
type Rejected struct {
	// Line is the 1-based physical line number where the record starts.
	Line int64
	// Offset is the byte offset in the file where the record starts.
	Offset int64
	// Raw is a copy of the raw record text, without the trailing newline.
	Raw []byte
	// Reason tells what is wrong, for example
	// `wrong number of fields: expected 4, got 5`.
	Reason string
}

// RecordReader yields Arrow record batches from one range of a file.
type RecordReader interface {
	// Next returns the next batch of up to the batch size rows (never an
	// empty non-nil record), the records rejected while reading it, and
	// io.EOF after the last batch (a final call may return nil, rejects,
	// io.EOF). The caller releases the record.
	//
	// To keep memory bounded, Next also returns as soon as it has collected
	// as many rejects as the batch size: the batch then has fewer rows, or
	// is nil (with a nil error) when none of the records read were good.
	// Any error other than io.EOF is fatal for the reader and is returned
	// again by later calls.
	//
	// The readers of this package also implement io.Closer, to release
	// their buffers when abandoned before the end.
	Next() (arrow.RecordBatch, []Rejected, error)
	// Position is the byte offset and 1-based line number of the next record
	// not yet returned in a batch or as rejected. A reader re-created at this
	// position continues exactly after the last returned batch.
	Position() (offset int64, line int64)
}

// DefaultSampleRows is the number of records sampled by InferCSV and
// InferJSON when called with sampleRows <= 0.
const DefaultSampleRows = 1000

func (o CSVOptions) delimiter() (rune, error) {
	d := o.Delimiter
	if d == 0 {
		d = ','
	}
	if d == '"' || d == '\r' || d == '\n' || d == utf8.RuneError || !utf8.ValidRune(d) {
		return 0, fmt.Errorf("csv: invalid delimiter %q", d)
	}
	return d, nil
}

// nullSet tells whether a field value is null.
type nullSet struct {
	onlyEmpty bool
	values    []string
}

func newNullSet(values []string) nullSet {
	if values == nil {
		return nullSet{onlyEmpty: true}
	}
	if len(values) == 1 && values[0] == "" {
		return nullSet{onlyEmpty: true}
	}
	return nullSet{values: values}
}

func (n *nullSet) is(s string) bool {
	if n.onlyEmpty {
		return len(s) == 0
	}
	for _, v := range n.values {
		if s == v {
			return true
		}
	}
	return false
}

// record status returned by csvRecords.read.
type recStatus uint8

const (
	recOK recStatus = iota
	recRejected
	recEOF
)

// csvRecords iterates over the CSV records of a stream with exact offsets and
// line numbers, turning quote errors into rejections.
type csvRecords struct {
	src   *lineSource
	fd    feeder
	cr    *csv.Reader
	comma rune
	multi bool
	end   int64

	// Set by read.
	fields  []string
	off     int64  // offset of the record (recOK, recRejected)
	line    int64  // line of the record
	raw     []byte // record text without trailing newline; valid until next read
	reason  string // recRejected
	nextOff int64  // position after the record, or of the record past end
	nextLn  int64
}

func newCSVRecords(src *lineSource, comma rune, multi bool, end int64) *csvRecords {
	c := &csvRecords{src: src, comma: comma, multi: multi, end: end}
	c.fd.multi = multi
	c.fd.src = src
	c.newCSV()
	return c
}

func (c *csvRecords) newCSV() {
	cr := csv.NewReader(&c.fd)
	cr.Comma = c.comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	c.cr = cr
}

// read reads the next record. It returns recEOF at the end of the stream or
// when the next record starts at or after end.
func (c *csvRecords) read() (recStatus, error) {
	for {
		start, startLine := c.src.off, c.src.line
		if start >= c.end {
			c.nextOff, c.nextLn = start, startLine
			return recEOF, nil
		}
		l, err := c.src.next()
		if err != nil {
			c.nextOff, c.nextLn = start, startLine
			if errors.Is(err, io.EOF) {
				return recEOF, nil
			}
			return recEOF, fmt.Errorf("read line %d: %w", startLine, err)
		}
		if len(trimEOL(l)) == 0 {
			continue // blank line
		}
		c.off, c.line = start, startLine
		firstLen := len(l)
		if c.multi {
			c.fd.rec = append(c.fd.rec[:0], l...)
		}
		c.fd.pending = l
		fields, err := c.cr.Read()
		c.fd.pending = nil
		if err != nil {
			var pe *csv.ParseError
			switch {
			case errors.As(err, &pe) || errors.Is(err, errRecordTooLong):
				if pe != nil {
					c.reason = pe.Err.Error()
				} else {
					c.reason = err.Error()
				}
				if c.multi {
					// Reject only the record's first line and restart
					// parsing on the line after it.
					c.raw = trimEOL(c.fd.rec[:firstLen])
					nextLine := startLine
					if c.fd.rec[firstLen-1] == '\n' {
						nextLine++
					}
					c.src.pushBack(c.fd.rec[firstLen:], start+int64(firstLen), nextLine)
					c.newCSV()
				} else {
					c.raw = trimEOL(l)
				}
				c.nextOff, c.nextLn = c.src.off, c.src.line
				return recRejected, nil
			case errors.Is(err, io.EOF):
				continue // nothing csv considers a record
			default:
				c.nextOff, c.nextLn = start, startLine
				return recEOF, fmt.Errorf("read record at line %d: %w", startLine, err)
			}
		}
		if c.multi {
			c.raw = trimEOL(c.fd.rec)
		} else {
			c.raw = trimEOL(l)
		}
		c.fields = fields
		c.nextOff, c.nextLn = c.src.off, c.src.line
		return recOK, nil
	}
}

// skipHeader consumes the header: the first line, or in multi-line mode the
// first record.
func (c *csvRecords) skipHeader() error {
	if c.multi {
		_, err := c.read()
		return err
	}
	if _, err := c.src.next(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read header: %w", err)
	}
	return nil
}

// readHeader parses the header record from the start of src.
func (c *csvRecords) readHeader() ([]string, error) {
	var st recStatus
	var err error
	if c.multi {
		st, err = c.read()
	} else {
		// The header is the first physical line, even if blank.
		c.off, c.line = c.src.off, c.src.line
		l, rerr := c.src.next()
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return nil, errors.New("csv header: empty file")
			}
			return nil, fmt.Errorf("csv header: %w", rerr)
		}
		if len(trimEOL(l)) == 0 {
			return nil, errors.New("csv header: first line is empty")
		}
		c.fd.pending = l
		fields, perr := c.cr.Read()
		c.fd.pending = nil
		if perr != nil {
			return nil, fmt.Errorf("csv header: %w", perr)
		}
		return append([]string(nil), fields...), nil
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("csv header: %w", err)
	case st == recEOF:
		return nil, errors.New("csv header: empty file")
	case st == recRejected:
		return nil, fmt.Errorf("csv header: line %d: %s", c.line, c.reason)
	}
	return append([]string(nil), c.fields...), nil
}

// ReadCSVHeader reads the header line of a CSV file and returns the column
// names.
func ReadCSVHeader(r io.Reader, opts CSVOptions) ([]string, error) {
	comma, err := opts.delimiter()
	if err != nil {
		return nil, err
	}
	src, err := newLineSource(r, 0, 1)
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	return newCSVRecords(src, comma, opts.Multiline, math.MaxInt64).readHeader()
}

// csvReader implements RecordReader for CSV.
type csvReader struct {
	recs       *csvRecords
	names      []string
	kinds      []kind
	nulls      nullSet
	bt         *batch
	cells      []cell
	skipHeader bool
	done       bool
	err        error
	posOff     int64
	posLine    int64
}

// NewCSVReader returns a reader of the CSV records starting in
// [rng.Start, rng.End) of f (a record starting before End is read whole, even
// past End), beginning with the record at byte offset offset on line line:
// offset == rng.Start and line == rng.StartLine for a fresh range, or a
// Position() value to resume. With opts.Header and offset == 0 the header line
// is skipped. Fields are converted to the schema's types. A record with the
// wrong number of fields, an unparsable value or a quote error is returned as
// a Rejected (not an error) and reading continues with the next record.
//
// Unless opts.Multiline is set, a record is exactly one physical line. Lines
// end in "\n" or "\r\n"; blank lines are skipped. batchSize <= 0 means
// DefaultBatchSize; a nil mem means memory.DefaultAllocator.
func NewCSVReader(f io.ReaderAt, rng Range, offset, line int64, schema Schema, opts CSVOptions, batchSize int, mem memory.Allocator) (RecordReader, error) {
	comma, err := opts.delimiter()
	if err != nil {
		return nil, err
	}
	if err := checkStart(rng, offset, line); err != nil {
		return nil, err
	}
	bt, err := newBatch(schema, batchSize, mem)
	if err != nil {
		return nil, fmt.Errorf("csv reader: %w", err)
	}
	src, err := newLineSource(sectionFrom(f, offset), offset, line)
	if err != nil {
		bt.release()
		return nil, fmt.Errorf("csv reader: %w", err)
	}
	names := make([]string, len(schema))
	for i, c := range schema {
		names[i] = c.Name
	}
	return &csvReader{
		recs:       newCSVRecords(src, comma, opts.Multiline, rng.End),
		names:      names,
		kinds:      bt.kinds,
		nulls:      newNullSet(opts.NullValues),
		bt:         bt,
		cells:      make([]cell, len(schema)),
		skipHeader: opts.Header && offset == 0,
		posOff:     offset,
		posLine:    line,
	}, nil
}

func checkStart(rng Range, offset, line int64) error {
	if offset < 0 || offset < rng.Start {
		return fmt.Errorf("start offset %d is before the range start %d", offset, rng.Start)
	}
	if line < 1 {
		return fmt.Errorf("start line %d is not positive", line)
	}
	return nil
}

// Position implements RecordReader.
func (r *csvReader) Position() (int64, int64) { return r.posOff, r.posLine }

// Close releases the reader's builders. It is needed only when a reader is
// abandoned before Next returned io.EOF or an error.
func (r *csvReader) Close() error {
	r.bt.release()
	return nil
}

// Next implements RecordReader.
func (r *csvReader) Next() (arrow.RecordBatch, []Rejected, error) {
	if r.err != nil {
		return nil, nil, r.err
	}
	if r.done {
		return nil, nil, io.EOF
	}
	if r.skipHeader {
		r.skipHeader = false
		if err := r.recs.skipHeader(); err != nil {
			return nil, nil, r.fail(err)
		}
	}
	var rejects []Rejected
	recs := r.recs
	for !r.bt.full() && len(rejects) < r.bt.size {
		st, err := recs.read()
		if err != nil {
			return nil, nil, r.fail(err)
		}
		switch st {
		case recEOF:
			r.done = true
			r.posOff, r.posLine = recs.nextOff, recs.nextLn
			rec := r.bt.flush()
			r.bt.release()
			if rec == nil {
				return nil, rejects, io.EOF
			}
			return rec, rejects, nil
		case recRejected:
			rejects = append(rejects, r.reject(recs.reason))
		case recOK:
			if reason, ok := r.convert(recs.fields); ok {
				r.bt.appendRow(r.cells)
			} else {
				rejects = append(rejects, r.reject(reason))
			}
		}
	}
	r.posOff, r.posLine = recs.nextOff, recs.nextLn
	return r.bt.flush(), rejects, nil
}

func (r *csvReader) fail(err error) error {
	r.err = fmt.Errorf("csv reader: %w", err)
	r.bt.release()
	return r.err
}

func (r *csvReader) reject(reason string) Rejected {
	return Rejected{
		Line:   r.recs.line,
		Offset: r.recs.off,
		Raw:    append([]byte(nil), r.recs.raw...),
		Reason: reason,
	}
}

// convert converts the fields of one record into r.cells. On failure it
// returns the rejection reason.
func (r *csvReader) convert(fields []string) (string, bool) {
	if len(fields) != len(r.kinds) {
		return "wrong number of fields: expected " + strconv.Itoa(len(r.kinds)) + ", got " + strconv.Itoa(len(fields)), false
	}
	for i, s := range fields {
		c := &r.cells[i]
		k := r.kinds[i]
		if r.nulls.is(s) {
			c.null = true
			continue
		}
		if k == kindString {
			if !utf8.ValidString(s) {
				return "column " + strconv.Quote(r.names[i]) + ": invalid UTF-8 in " + quoteForReason(s), false
			}
			c.null, c.raw, c.s = false, false, s
			continue
		}
		t := trimSpace(s)
		if len(t) != len(s) && r.nulls.is(t) {
			c.null = true
			continue
		}
		if !parseText(k, t, c) {
			return cannotParse(r.names[i], quoteForReason(s), k), false
		}
	}
	return "", true
}

// InferCSV samples up to sampleRows records (after the header, if any) and
// infers each column's type: the first of int64, float64, bool, timestamp and
// date that parses every non-null sampled value of the column, else string.
// An all-null column is string. Column names come from the header (an empty
// name becomes col_<n> and a repeated name gets a _2, _3... suffix), or are
// col_1..col_n without a header, n being the most common field count in the
// sample. Sampled records with another field count or a quote error are
// ignored. sampleRows <= 0 means DefaultSampleRows.
func InferCSV(r io.Reader, opts CSVOptions, sampleRows int) (Schema, error) {
	comma, err := opts.delimiter()
	if err != nil {
		return nil, err
	}
	if sampleRows <= 0 {
		sampleRows = DefaultSampleRows
	}
	src, err := newLineSource(r, 0, 1)
	if err != nil {
		return nil, fmt.Errorf("infer csv: %w", err)
	}
	recs := newCSVRecords(src, comma, opts.Multiline, math.MaxInt64)
	var names []string
	if opts.Header {
		if names, err = recs.readHeader(); err != nil {
			return nil, fmt.Errorf("infer csv: %w", err)
		}
	}
	var sample [][]string
	for n := 0; n < sampleRows; n++ {
		st, err := recs.read()
		if err != nil {
			return nil, fmt.Errorf("infer csv: %w", err)
		}
		if st == recEOF {
			break
		}
		if st == recOK {
			sample = append(sample, append([]string(nil), recs.fields...))
		}
	}
	ncols := len(names)
	if names == nil {
		// The most common field count; ties go to the count seen first.
		counts := map[int]int{}
		for _, rec := range sample {
			counts[len(rec)]++
		}
		best := 0
		for _, rec := range sample {
			if c := counts[len(rec)]; c > best {
				best, ncols = c, len(rec)
			}
		}
		if ncols == 0 {
			return nil, errors.New("infer csv: no records to infer columns from")
		}
		names = make([]string, ncols)
	}
	nulls := newNullSet(opts.NullValues)
	inf := make([]typeCandidates, ncols)
	for i := range inf {
		inf[i] = allCandidates
	}
	for _, rec := range sample {
		if len(rec) != ncols {
			continue
		}
		for i, s := range rec {
			if nulls.is(s) {
				continue
			}
			t := trimSpace(s)
			if len(t) != len(s) && nulls.is(t) {
				continue
			}
			inf[i].observe(t)
		}
	}
	schema := make(Schema, ncols)
	for i := range schema {
		schema[i] = Column{Name: names[i], Type: inf[i].result()}
	}
	uniqueNames(schema)
	return schema, nil
}

// typeCandidates tracks which types every observed value parses as.
type typeCandidates uint8

const (
	candInt64 typeCandidates = 1 << iota
	candFloat64
	candBool
	candTimestamp
	candDate
	candSeen      // at least one non-null value
	allCandidates = candInt64 | candFloat64 | candBool | candTimestamp | candDate
)

var candOrder = []struct {
	c typeCandidates
	k kind
}{
	{candInt64, kindInt64}, {candFloat64, kindFloat64}, {candBool, kindBool},
	{candTimestamp, kindTimestamp}, {candDate, kindDate},
}

func (t *typeCandidates) observe(s string) {
	*t |= candSeen
	var c cell
	for _, o := range candOrder {
		if *t&o.c != 0 && !parseText(o.k, s, &c) {
			*t &^= o.c
		}
	}
}

func (t typeCandidates) result() string {
	if t&candSeen == 0 {
		return TypeString
	}
	for _, o := range candOrder {
		if t&o.c != 0 {
			return o.k.String()
		}
	}
	return TypeString
}

// uniqueNames replaces empty names by col_<n> and makes repeated names unique.
func uniqueNames(s Schema) {
	used := make(map[string]bool, len(s))
	for i := range s {
		if s[i].Name == "" {
			s[i].Name = "col_" + strconv.Itoa(i+1)
		}
	}
	for i := range s {
		name := s[i].Name
		for n := 2; used[name]; n++ {
			name = s[i].Name + "_" + strconv.Itoa(n)
		}
		used[name] = true
		s[i].Name = name
	}
}

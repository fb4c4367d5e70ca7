package format

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CSVOptions describes the CSV dialect of a file.
type CSVOptions struct {
	// Delimiter separates fields; 0 means ','.
	Delimiter rune
	// Header tells that the first record of the file (its first record that
	// is not blank) is a header. It matters only for the range starting at
	// offset 0, for inference and for planning.
	Header bool
	// NullValues lists field values read as null; nil means {""}. A quoted
	// field is never null in a string column. For non-string columns a
	// value is also null when it equals one of them after trimming
	// surrounding spaces and tabs.
	NullValues []string
}

// Rejected is one bad input record.
type Rejected struct {
	// Line is the 1-based physical line number where the record starts.
	Line int64
	// Offset is the byte offset in the file where the record starts.
	Offset int64
	// Raw is a copy of the raw record text, without the trailing newline
	// (for a CSV quote error: the record's first line).
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

// readCSVHeader consumes the header: the first record that is not blank.
// It returns its fields (nil for a header with a quote error, whose first
// line is consumed) and the line it starts on.
func readCSVHeader(src *csvSource, sx *csvSyntax) (fields []string, line int64, fr frame, err error) {
	for {
		line = src.line
		var rec []byte
		fr, rec, err = src.next(sx)
		if err != nil {
			return nil, line, fr, err
		}
		switch fr.status {
		case frameBlank:
			continue
		case frameOK:
			fields, _, _, _ = sx.fields(rec, fr.quoted, nil, nil, nil, nil)
		}
		return fields, line, fr, nil
	}
}

// ReadCSVHeader reads the header of a CSV file, its first record that is
// not blank, and returns the column names.
func ReadCSVHeader(r io.Reader, opts CSVOptions) ([]string, error) {
	sx, err := newCSVSyntax(opts)
	if err != nil {
		return nil, err
	}
	src, err := newCSVSource(r, 0, 1, 0)
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	return headerNames(src, &sx)
}

func headerNames(src *csvSource, sx *csvSyntax) ([]string, error) {
	names, line, fr, err := readCSVHeader(src, sx)
	switch {
	case err != nil:
		return nil, fmt.Errorf("csv header: %w", err)
	case fr.status == frameEOF:
		return nil, errors.New("csv header: empty file")
	case fr.status == frameBad:
		return nil, fmt.Errorf("csv header: %s", fr.reason(line))
	}
	return names, nil
}

// csvReader implements RecordReader for CSV.
type csvReader struct {
	src        *csvSource
	sx         csvSyntax
	end        int64
	names      []string
	kinds      []kind
	strict     []bool
	nulls      nullSet
	bt         *batch
	cells      []cell
	skipHeader bool
	done       bool
	err        error
	posOff     int64
	posLine    int64
	// scratch space of csvSyntax.fields
	fields []string
	quoted []bool
	buf    []byte
	ends   []int
}

// NewCSVReader returns a reader of the CSV records starting in
// [rng.Start, rng.End) of f (a record starting before End is read whole, even
// past End), beginning with the record at byte offset offset on line line:
// offset == rng.Start and line == rng.StartLine for a fresh range, or a
// Position() value to resume. rng.Start must be a record boundary, as
// PlanCSVRanges gives. With opts.Header and offset == 0 the header record is
// skipped. Fields are converted to the schema's types. A record with the
// wrong number of fields, an unparsable value or a quote error is returned as
// a Rejected (not an error) and reading continues with the next record.
//
// Records follow RFC 4180 (see the package documentation): quoted fields may
// hold delimiters, doubled quotes and line breaks. Lines end in "\n" or
// "\r\n"; blank lines are skipped. batchSize <= 0 means DefaultBatchSize; a
// nil mem means memory.DefaultAllocator.
func NewCSVReader(f io.ReaderAt, rng Range, offset, line int64, schema Schema, opts CSVOptions, batchSize int, mem memory.Allocator) (RecordReader, error) {
	sx, err := newCSVSyntax(opts)
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
	src, err := newCSVSource(sectionFrom(f, offset), offset, line, rng.End-offset+1024)
	if err != nil {
		bt.release()
		return nil, fmt.Errorf("csv reader: %w", err)
	}
	names := make([]string, len(schema))
	strict := make([]bool, len(schema))
	for i, c := range schema {
		names[i], strict[i] = c.Name, c.Strict
	}
	return &csvReader{
		src:        src,
		sx:         sx,
		end:        rng.End,
		names:      names,
		kinds:      bt.kinds,
		strict:     strict,
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
	src := r.src
	if r.skipHeader {
		r.skipHeader = false
		if _, _, _, err := readCSVHeader(src, &r.sx); err != nil {
			return nil, nil, r.fail(fmt.Errorf("read header: %w", err))
		}
	}
	var rejects []Rejected
	for !r.bt.full() && len(rejects) < r.bt.size {
		start, line := src.off, src.line
		var fr frame
		var rec []byte
		var err error
		if start < r.end {
			fr, rec, err = src.next(&r.sx)
			if err != nil {
				return nil, nil, r.fail(fmt.Errorf("read line %d: %w", line, err))
			}
		} else {
			fr.status = frameEOF
		}
		switch fr.status {
		case frameEOF:
			r.done = true
			r.posOff, r.posLine = start, line
			out := r.bt.flush()
			r.bt.release()
			if out == nil {
				return nil, rejects, io.EOF
			}
			return out, rejects, nil
		case frameBlank:
			continue
		case frameBad:
			rejects = append(rejects, reject(start, line, rec, fr.reason(line)))
		case frameOK:
			r.fields, r.quoted, r.buf, r.ends = r.sx.fields(rec, fr.quoted, r.fields, r.quoted, r.buf, r.ends)
			if reason, ok := r.convert(r.fields, r.quoted); ok {
				r.bt.appendRow(r.cells)
			} else {
				rejects = append(rejects, reject(start, line, rec, reason))
			}
		}
	}
	r.posOff, r.posLine = src.off, src.line
	return r.bt.flush(), rejects, nil
}

func (r *csvReader) fail(err error) error {
	r.err = fmt.Errorf("csv reader: %w", err)
	r.bt.release()
	return r.err
}

// reject describes the record rec, starting at offset off on line line.
func reject(off, line int64, rec []byte, reason string) Rejected {
	return Rejected{Line: line, Offset: off, Raw: append([]byte(nil), trimEOL(rec)...), Reason: reason}
}

// convert converts the fields of one record into r.cells. On failure it
// returns the rejection reason.
//
// Nulls: a field equal to one of the null values is null, except that a
// quoted field is never null in a string column ("" is the empty string
// there, an unquoted empty field is null). For other columns a value is
// also null when it equals a null value after trimming spaces and tabs.
func (r *csvReader) convert(fields []string, quoted []bool) (string, bool) {
	if len(fields) != len(r.kinds) {
		return "wrong number of fields: expected " + strconv.Itoa(len(r.kinds)) + ", got " + strconv.Itoa(len(fields)), false
	}
	for i, s := range fields {
		c := &r.cells[i]
		k := r.kinds[i]
		if k == kindString {
			if !quoted[i] && r.nulls.is(s) {
				c.null = true
				continue
			}
			if !utf8.ValidString(s) {
				return "column " + strconv.Quote(r.names[i]) + ": invalid UTF-8 in " + quoteForReason(s), false
			}
			c.null, c.raw, c.s = false, false, s
			continue
		}
		if r.nulls.is(s) {
			c.null = true
			continue
		}
		t := trimSpace(s)
		if len(t) != len(s) && r.nulls.is(t) {
			c.null = true
			continue
		}
		ok := false
		if r.strict[i] {
			ok = parseStrict(k, t, c)
		} else {
			ok = parseText(k, t, c)
		}
		if !ok {
			reason := cannotParse(r.names[i], quoteForReason(s), k)
			if r.strict[i] && parseText(k, t, c) {
				reason += " without changing it (an inferred type keeps every value as written; set an explicit schema to convert such values)"
			}
			return reason, false
		}
	}
	return "", true
}

// InferCSV samples up to sampleRows records (after the header, if any) and
// infers each column's type: the first of int64, float64, bool, timestamp and
// date that holds every non-null sampled value of the column without
// changing it (see parseStrict for the exact texts each accepts), else
// string. An all-null column is string. The columns are strict (see
// [Column]), so that later values that a type would change are rejected
// rather than converted. Column names come from the header (an empty name
// becomes col_<n> and a repeated name gets a _2, _3... suffix), or are
// col_1..col_n without a header, n being the most common field count in the
// sample. Sampled records with another field count or a quote error are
// ignored. sampleRows <= 0 means DefaultSampleRows.
func InferCSV(r io.Reader, opts CSVOptions, sampleRows int) (Schema, error) {
	sx, err := newCSVSyntax(opts)
	if err != nil {
		return nil, err
	}
	if sampleRows <= 0 {
		sampleRows = DefaultSampleRows
	}
	src, err := newCSVSource(r, 0, 1, 0)
	if err != nil {
		return nil, fmt.Errorf("infer csv: %w", err)
	}
	var names []string
	if opts.Header {
		if names, err = headerNames(src, &sx); err != nil {
			return nil, fmt.Errorf("infer csv: %w", err)
		}
	}
	var sample [][]string
	for n := 0; n < sampleRows; {
		line := src.line
		fr, rec, err := src.next(&sx)
		if err != nil {
			return nil, fmt.Errorf("infer csv: read line %d: %w", line, err)
		}
		if fr.status == frameEOF {
			break
		}
		if fr.status == frameBlank {
			continue
		}
		n++
		if fr.status == frameOK {
			fields, _, _, _ := sx.fields(rec, fr.quoted, nil, nil, nil, nil)
			sample = append(sample, fields)
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
		typ := inf[i].result()
		schema[i] = Column{Name: names[i], Type: typ, Strict: typ != TypeString}
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
		if *t&o.c != 0 && !parseStrict(o.k, s, &c) {
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

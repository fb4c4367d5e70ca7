package rafkaplugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/activedataflow/adf/sdk"
)

// Metadata column names. With format json a JSON field of the same name
// wins and the metadata column is renamed with a leading underscore.
const (
	colKey       = "key"
	colValue     = "value"
	colPartition = "partition"
	colID        = "id"
	colTimestamp = "timestamp"
	colHeaders   = "headers"
)

var tsType = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}

// decoder turns stream entries into Arrow record batches.
type decoder struct {
	format string
	cols   []Column
	schema *arrow.Schema
	// index of each JSON column in the schema, by name
	jsonIdx                                 map[string]int
	keyIdx, valueIdx, partIdx, idIdx, tsIdx int
	hdrIdx                                  int
	// mem backs the builders (JSON columns, headers); pool the columns
	// decode writes itself (key, value, partition, id, timestamp), whose
	// buffers go back to it when the emitted batch is released.
	mem  memory.Allocator
	pool *bufPool
	// jsonB are the builders of the JSON columns (in d.cols order), hdrB
	// the headers column's; rows the reused list of decoded entries.
	jsonB  []array.Builder
	hdrB   *array.StringBuilder
	rows   []int32
	fields map[string]json.RawMessage
	hdr    map[string]any
}

func newDecoder(format string, cols []Column, headers bool, mem memory.Allocator) *decoder {
	d := &decoder{format: format, cols: cols, mem: mem, pool: &bufPool{}, jsonIdx: map[string]int{}, valueIdx: -1, hdrIdx: -1}
	taken := map[string]bool{}
	if format == FormatJSON {
		for _, c := range cols {
			taken[c.Name] = true
		}
	}
	meta := func(name string) string {
		for taken[name] {
			name = "_" + name
		}
		taken[name] = true
		return name
	}
	var fields []arrow.Field
	d.keyIdx = len(fields)
	fields = append(fields, arrow.Field{Name: meta(colKey), Type: arrow.BinaryTypes.String, Nullable: true})
	if format == FormatJSON {
		for _, c := range cols {
			d.jsonIdx[c.Name] = len(fields)
			fields = append(fields, arrow.Field{Name: c.Name, Type: arrowType(c.Type), Nullable: true})
			d.jsonB = append(d.jsonB, array.NewBuilder(mem, arrowType(c.Type)))
		}
	} else {
		d.valueIdx = len(fields)
		fields = append(fields, arrow.Field{Name: meta(colValue), Type: arrow.BinaryTypes.Binary, Nullable: true})
	}
	d.partIdx = len(fields)
	fields = append(fields, arrow.Field{Name: meta(colPartition), Type: arrow.PrimitiveTypes.Int32})
	d.idIdx = len(fields)
	fields = append(fields, arrow.Field{Name: meta(colID), Type: arrow.BinaryTypes.String})
	d.tsIdx = len(fields)
	fields = append(fields, arrow.Field{Name: meta(colTimestamp), Type: tsType})
	if headers {
		d.hdrIdx = len(fields)
		fields = append(fields, arrow.Field{Name: meta(colHeaders), Type: arrow.BinaryTypes.String, Nullable: true})
		d.hdrB = array.NewStringBuilder(mem)
	}
	d.schema = arrow.NewSchema(fields, nil)
	return d
}

func arrowType(t string) arrow.DataType {
	switch t {
	case "int64":
		return arrow.PrimitiveTypes.Int64
	case "float64":
		return arrow.PrimitiveTypes.Float64
	case "bool":
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}

// decode builds one batch from the entries ents of reply rep, read from
// split sp. Entries that cannot be decoded are passed to reject; deleted
// entries (trimmed before they were acknowledged) are skipped. The batch is
// nil when no row remains.
func (d *decoder) decode(sp *Split, rep *xreply, ents []xentry, reject func(sdk.Rejected) error) (arrow.RecordBatch, error) {
	rows := d.rows[:0]
	if d.format == FormatJSON {
		for _, b := range d.jsonB {
			b.Reserve(len(ents))
		}
	}
	for i := range ents {
		e := &ents[i]
		if e.deleted {
			continue
		}
		if d.format == FormatJSON {
			value := rep.bytes(e.valAt, e.valLen)
			clear(d.fields)
			// A JSON null leaves (or sets) the map nil: not an object.
			if err := json.Unmarshal(value, &d.fields); err != nil || d.fields == nil {
				reason := "value is not a JSON object"
				if err != nil {
					reason = fmt.Sprintf("value is not a JSON object: %v", err)
				}
				if rerr := reject(sdk.Rejected{SplitID: sp.SplitID(), Position: sp.position(string(rep.rawID(e))), Raw: bytes.Clone(value), Reason: reason}); rerr != nil {
					return nil, rerr
				}
				continue
			}
			if err := d.checkJSON(d.fields); err != nil {
				if rerr := reject(sdk.Rejected{SplitID: sp.SplitID(), Position: sp.position(string(rep.rawID(e))), Raw: bytes.Clone(value), Reason: err.Error()}); rerr != nil {
					return nil, rerr
				}
				continue
			}
			d.appendJSON(d.fields)
		}
		rows = append(rows, int32(i))
	}
	d.rows = rows
	if len(rows) == 0 {
		return nil, nil
	}
	n := len(rows)
	cols := make([]arrow.Array, len(d.schema.Fields()))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var err error
	if cols[d.keyIdx], err = d.varColumn(arrow.BinaryTypes.String, rep, ents, rows, keyOf); err != nil {
		return nil, err
	}
	if d.valueIdx >= 0 {
		if cols[d.valueIdx], err = d.varColumn(arrow.BinaryTypes.Binary, rep, ents, rows, valueOf); err != nil {
			return nil, err
		}
	}
	if cols[d.idIdx], err = d.varColumn(arrow.BinaryTypes.String, rep, ents, rows, idOf); err != nil {
		return nil, err
	}
	part := d.buffer(4 * n)
	pv := arrow.Int32Traits.CastFromBytes(part.Bytes())
	for j := range pv {
		pv[j] = int32(sp.Partition)
	}
	cols[d.partIdx] = fixedColumn(arrow.PrimitiveTypes.Int32, n, part)
	ts := d.buffer(8 * n)
	tv := arrow.Int64Traits.CastFromBytes(ts.Bytes())
	for j, i := range rows {
		tv[j] = int64(ents[i].id.Ms)
	}
	cols[d.tsIdx] = fixedColumn(tsType, n, ts)
	for k, c := range d.cols {
		cols[d.jsonIdx[c.Name]] = d.jsonB[k].NewArray()
	}
	if d.hdrIdx >= 0 {
		d.hdrB.Reserve(n)
		for _, i := range rows {
			d.appendHeaders(rep, &ents[i])
		}
		cols[d.hdrIdx] = d.hdrB.NewArray()
	}
	return array.NewRecordBatch(d.schema, cols, int64(n)), nil
}

func keyOf(e *xentry) (int, int, bool)   { return e.keyAt, e.keyLen, e.hasKey }
func valueOf(e *xentry) (int, int, bool) { return e.valAt, e.valLen, e.hasValue }
func idOf(e *xentry) (int, int, bool)    { return e.idAt, e.idLen, true }

// buffer is a buffer of n bytes from the pool.
func (d *decoder) buffer(n int) *memory.Buffer {
	b := memory.NewResizableBuffer(d.pool)
	b.Resize(n)
	return b
}

// varColumn builds a string or binary column of the entries' rows from
// the part get picks of each (absent: null), with buffers of the exact size.
func (d *decoder) varColumn(dt arrow.DataType, rep *xreply, ents []xentry, rows []int32, get func(*xentry) (int, int, bool)) (arrow.Array, error) {
	n := len(rows)
	size, nulls := 0, 0
	for _, i := range rows {
		if _, l, ok := get(&ents[i]); ok {
			size += l
		} else {
			nulls++
		}
	}
	if size > math.MaxInt32 {
		return nil, &sdk.Error{Code: sdk.CodeBadRecord, Summary: fmt.Sprintf("a batch of %d entries holds %d bytes in one column, more than an Arrow batch can (2 GiB); lower batch_size", n, size)}
	}
	offsets, data := d.buffer(4*(n+1)), d.buffer(size)
	ov, dv := arrow.Int32Traits.CastFromBytes(offsets.Bytes()), data.Bytes()
	var valid *memory.Buffer
	var vv []byte
	if nulls > 0 {
		valid = d.buffer(int(bitutil.BytesForBits(int64(n))))
		vv = valid.Bytes()
		clear(vv)
	}
	pos := 0
	ov[0] = 0
	for j, i := range rows {
		if at, l, ok := get(&ents[i]); ok {
			pos += copy(dv[pos:], rep.buf[at:at+l])
			if vv != nil {
				bitutil.SetBit(vv, j)
			}
		}
		ov[j+1] = int32(pos)
	}
	ad := array.NewData(dt, n, []*memory.Buffer{valid, offsets, data}, nil, nulls, 0)
	for _, b := range []*memory.Buffer{valid, offsets, data} {
		if b != nil {
			b.Release()
		}
	}
	defer ad.Release()
	return array.MakeFromData(ad), nil
}

// fixedColumn makes a column without nulls of n fixed-width values.
func fixedColumn(dt arrow.DataType, n int, values *memory.Buffer) arrow.Array {
	ad := array.NewData(dt, n, []*memory.Buffer{nil, values}, nil, 0, 0)
	values.Release()
	defer ad.Release()
	return array.MakeFromData(ad)
}

// bufPool is the memory.Allocator of the columns decode writes itself: it
// keeps the buffers of released batches (a few per power-of-two size) for
// the next ones, so a reader's steady state allocates no new Arrow memory.
// Its buffers are not zeroed: decode writes every byte it hands out.
type bufPool struct {
	mu   sync.Mutex
	free [64][][]byte
}

// bufPoolKeep is how many free buffers of one size the pool keeps.
const bufPoolKeep = 16

func sizeClass(n int) int { return bits.Len(uint(n - 1)) }

// Allocate implements memory.Allocator.
func (p *bufPool) Allocate(size int) []byte {
	if size <= 0 {
		return nil
	}
	c := sizeClass(size)
	p.mu.Lock()
	if l := p.free[c]; len(l) > 0 {
		b := l[len(l)-1]
		l[len(l)-1] = nil
		p.free[c] = l[:len(l)-1]
		p.mu.Unlock()
		return b[:size]
	}
	p.mu.Unlock()
	return make([]byte, size, 1<<c)
}

// Reallocate implements memory.Allocator.
func (p *bufPool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free implements memory.Allocator.
func (p *bufPool) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	c := sizeClass(cap(b))
	if cap(b) != 1<<c {
		return
	}
	p.mu.Lock()
	if len(p.free[c]) < bufPoolKeep {
		p.free[c] = append(p.free[c], b[:cap(b)])
	}
	p.mu.Unlock()
}

// checkJSON verifies that every schema column of the object parses as its
// type, so a bad row is rejected before anything is appended.
func (d *decoder) checkJSON(fields map[string]json.RawMessage) error {
	for _, c := range d.cols {
		raw, ok := fields[c.Name]
		if !ok || isNull(raw) {
			continue
		}
		switch c.Type {
		case "int64":
			if _, err := parseInt(raw); err != nil {
				return fmt.Errorf("field %s: %s is not an int64", c.Name, short(raw))
			}
		case "float64":
			if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
				return fmt.Errorf("field %s: %s is not a number", c.Name, short(raw))
			}
		case "bool":
			if s := string(raw); s != "true" && s != "false" {
				return fmt.Errorf("field %s: %s is not a boolean", c.Name, short(raw))
			}
		}
	}
	return nil
}

func (d *decoder) appendJSON(fields map[string]json.RawMessage) {
	for k, c := range d.cols {
		fb := d.jsonB[k]
		raw, ok := fields[c.Name]
		if !ok || isNull(raw) {
			fb.AppendNull()
			continue
		}
		switch c.Type {
		case "int64":
			v, _ := parseInt(raw)
			fb.(*array.Int64Builder).Append(v)
		case "float64":
			v, _ := strconv.ParseFloat(string(raw), 64)
			fb.(*array.Float64Builder).Append(v)
		case "bool":
			fb.(*array.BooleanBuilder).Append(string(raw) == "true")
		case "string":
			if raw[0] == '"' {
				var s string
				if err := json.Unmarshal(raw, &s); err == nil {
					fb.(*array.StringBuilder).Append(s)
					continue
				}
			}
			fb.(*array.StringBuilder).Append(string(raw))
		default: // json
			fb.(*array.StringBuilder).Append(string(raw))
		}
	}
}

// appendHeaders appends the entry's fields other than key and value as a
// JSON object (keys sorted; a field given twice: its last value), or null
// when there are none.
func (d *decoder) appendHeaders(rep *xreply, e *xentry) {
	if d.hdr == nil {
		d.hdr = map[string]any{}
	}
	clear(d.hdr)
	for _, f := range rep.fields[e.fieldLo:e.fieldHi] {
		if k := rep.bytes(f.nameAt, f.nameLen); string(k) != "key" && string(k) != "value" {
			d.hdr[string(k)] = string(rep.bytes(f.valAt, f.valLen))
		}
	}
	if len(d.hdr) == 0 {
		d.hdrB.AppendNull()
		return
	}
	js, _ := json.Marshal(d.hdr)
	d.hdrB.BinaryBuilder.Append(js)
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// parseInt accepts integers, and numbers with an integral value (1.0, 1e3).
func parseInt(raw json.RawMessage) (int64, error) {
	if v, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != float64(int64(f)) {
		return 0, fmt.Errorf("not an integer")
	}
	return int64(f), nil
}

func short(raw json.RawMessage) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	return string(raw)
}

// inferSchema infers JSON columns from sample values: fields in first-seen
// order; integers that meet fractions become float64; other conflicts
// become string; objects and arrays are json.
func inferSchema(values [][]byte) []Column {
	var cols []Column
	idx := map[string]int{}
	for _, v := range values {
		dec := json.NewDecoder(bytes.NewReader(v))
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			continue
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				break
			}
			name, _ := t.(string)
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				break
			}
			typ := jsonType(raw)
			i, seen := idx[name]
			if !seen {
				idx[name] = len(cols)
				cols = append(cols, Column{Name: name, Type: typ})
				continue
			}
			cols[i].Type = mergeType(cols[i].Type, typ)
		}
	}
	for i := range cols {
		if cols[i].Type == "" {
			cols[i].Type = "string"
		}
	}
	return cols
}

func jsonType(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return ""
	case '{', '[':
		return "json"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "float64"
	}
	return "int64"
}

func mergeType(a, b string) string {
	switch {
	case a == b || b == "":
		return a
	case a == "":
		return b
	case (a == "int64" && b == "float64") || (a == "float64" && b == "int64"):
		return "float64"
	}
	return "string"
}

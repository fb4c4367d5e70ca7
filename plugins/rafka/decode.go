package rafkaplugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
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
	mem                                     memory.Allocator
}

func newDecoder(format string, cols []Column, headers bool, mem memory.Allocator) *decoder {
	d := &decoder{format: format, cols: cols, mem: mem, jsonIdx: map[string]int{}, valueIdx: -1, hdrIdx: -1}
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

// decode builds one batch from msgs of split sp. Entries that cannot be
// decoded are passed to reject; deleted entries (trimmed before they were
// acknowledged) are skipped. The batch is nil when no row remains.
func (d *decoder) decode(sp *Split, msgs []redis.XMessage, reject func(sdk.Rejected) error) (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(d.mem, d.schema)
	defer b.Release()
	keyB := b.Field(d.keyIdx).(*array.StringBuilder)
	partB := b.Field(d.partIdx).(*array.Int32Builder)
	idB := b.Field(d.idIdx).(*array.StringBuilder)
	tsB := b.Field(d.tsIdx).(*array.TimestampBuilder)
	var valB *array.BinaryBuilder
	if d.valueIdx >= 0 {
		valB = b.Field(d.valueIdx).(*array.BinaryBuilder)
	}
	rows := 0
	var fields map[string]json.RawMessage
	for _, m := range msgs {
		if m.Values == nil {
			continue
		}
		id, err := rafka.ParseID(m.ID)
		if err != nil {
			return nil, &sdk.Error{Code: sdk.CodeBadRecord, Summary: fmt.Sprintf("entry of %s: %v", sp.SplitID(), err), Err: err}
		}
		value, _ := m.Values["value"].(string)
		if d.format == FormatJSON {
			clear(fields)
			if err := json.Unmarshal([]byte(value), &fields); err != nil || fields == nil {
				reason := "value is not a JSON object"
				if err != nil {
					reason = fmt.Sprintf("value is not a JSON object: %v", err)
				}
				if rerr := reject(sdk.Rejected{SplitID: sp.SplitID(), Position: sp.position(m.ID), Raw: []byte(value), Reason: reason}); rerr != nil {
					return nil, rerr
				}
				continue
			}
			if err := d.checkJSON(fields); err != nil {
				if rerr := reject(sdk.Rejected{SplitID: sp.SplitID(), Position: sp.position(m.ID), Raw: []byte(value), Reason: err.Error()}); rerr != nil {
					return nil, rerr
				}
				continue
			}
			d.appendJSON(b, fields)
		} else {
			if _, ok := m.Values["value"]; ok {
				valB.Append([]byte(value))
			} else {
				valB.AppendNull()
			}
		}
		if k, ok := m.Values["key"].(string); ok {
			keyB.Append(k)
		} else {
			keyB.AppendNull()
		}
		partB.Append(int32(sp.Partition))
		idB.Append(m.ID)
		tsB.Append(arrow.Timestamp(id.Ms))
		if d.hdrIdx >= 0 {
			appendHeaders(b.Field(d.hdrIdx).(*array.StringBuilder), m.Values)
		}
		rows++
	}
	if rows == 0 {
		return nil, nil
	}
	return b.NewRecordBatch(), nil
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

func (d *decoder) appendJSON(b *array.RecordBuilder, fields map[string]json.RawMessage) {
	for _, c := range d.cols {
		fb := b.Field(d.jsonIdx[c.Name])
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
// JSON object (keys sorted), or null when there are none.
func appendHeaders(b *array.StringBuilder, values map[string]any) {
	hdr := map[string]any{}
	for k, v := range values {
		if k != "key" && k != "value" {
			hdr[k] = v
		}
	}
	if len(hdr) == 0 {
		b.AppendNull()
		return
	}
	js, _ := json.Marshal(hdr)
	b.Append(string(js))
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

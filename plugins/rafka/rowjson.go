package rafkaplugin

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// rowEncoder renders the rows of a batch as JSON objects (columns in
// schema order, nulls as null) and single cells as bytes.
type rowEncoder struct {
	names [][]byte // `"name":` of every column, pre-encoded
}

func newRowEncoder(schema *arrow.Schema) *rowEncoder {
	e := &rowEncoder{}
	for i, f := range schema.Fields() {
		n, _ := json.Marshal(f.Name)
		var b []byte
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, n...)
		b = append(b, ':')
		e.names = append(e.names, b)
	}
	return e
}

// row appends row i of rec as a JSON object to dst.
func (e *rowEncoder) row(dst []byte, rec arrow.RecordBatch, i int) []byte {
	dst = append(dst, '{')
	for j, col := range rec.Columns() {
		dst = append(dst, e.names[j]...)
		dst = appendJSONValue(dst, col, i)
	}
	return append(dst, '}')
}

// appendJSONValue appends the JSON form of cell i of col.
func appendJSONValue(dst []byte, col arrow.Array, i int) []byte {
	if col.IsNull(i) {
		return append(dst, "null"...)
	}
	switch a := col.(type) {
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10)
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Float64:
		v := a.Value(i)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64)
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i))
	case *array.String:
		return appendJSONString(dst, a.Value(i))
	case *array.LargeString:
		return appendJSONString(dst, a.Value(i))
	case *array.Binary:
		v := a.Value(i)
		if utf8.Valid(v) && json.Valid(v) {
			// A JSON document stored as bytes is embedded as it is.
			return append(dst, v...)
		}
		if utf8.Valid(v) {
			return appendJSONString(dst, string(v))
		}
	}
	b, err := json.Marshal(col.GetOneForMarshal(i))
	if err != nil {
		b, _ = json.Marshal(col.ValueStr(i))
	}
	return append(dst, b...)
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// cellBytes is a single cell as a value: strings and bytes as they are,
// anything else as JSON. ok is false for a null.
func cellBytes(dst []byte, col arrow.Array, i int) ([]byte, bool) {
	if col.IsNull(i) {
		return dst, false
	}
	switch a := col.(type) {
	case *array.String:
		return append(dst, a.Value(i)...), true
	case *array.LargeString:
		return append(dst, a.Value(i)...), true
	case *array.Binary:
		return append(dst, a.Value(i)...), true
	}
	return appendJSONValue(dst, col, i), true
}

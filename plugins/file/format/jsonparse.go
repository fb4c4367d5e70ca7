package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// This file holds a small walker over JSON text that json.Valid has already
// accepted, and the conversion of JSON values to column cells.

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// trimJSONSpace trims JSON whitespace from both ends of b.
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// skipJSONString returns the index after the string starting at b[i] == '"'.
func skipJSONString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipJSONValue returns the index after the value starting at b[i].
func skipJSONValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipJSONString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipJSONString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for j < len(b) && !isJSONSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		return j
	}
}

// jsonMembers iterates over the members of a valid JSON object.
type jsonMembers struct {
	b []byte
	i int
}

// newJSONMembers returns an iterator over b, which must be valid JSON; ok is
// false when b is not an object.
func newJSONMembers(b []byte) (jsonMembers, bool) {
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return jsonMembers{}, false
	}
	return jsonMembers{b: b, i: i + 1}, true
}

// next returns the next member: the key as quoted JSON text and the raw
// value.
func (m *jsonMembers) next() (key, val []byte, ok bool) {
	b := m.b
	i := skipJSONSpace(b, m.i)
	if i >= len(b) || b[i] == '}' {
		return nil, nil, false
	}
	if b[i] == ',' {
		i = skipJSONSpace(b, i+1)
	}
	ke := skipJSONString(b, i)
	key = b[i:ke]
	i = skipJSONSpace(b, ke) + 1 // ':'
	i = skipJSONSpace(b, i)
	ve := skipJSONValue(b, i)
	val = b[i:ve]
	m.i = ve
	return key, val, true
}

// jsonKey decodes a quoted JSON key. The result may alias q; it is meant for
// map lookups.
func jsonKey(q []byte) ([]byte, bool) {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// jsonString decodes a quoted JSON string value. ok is false for invalid
// UTF-8. The result may alias q.
func jsonString(q []byte) ([]byte, bool) {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, utf8.Valid(inner)
	}
	if !utf8.Valid(inner) {
		return nil, false
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// bytesString views b as a string without copying; b must not change while
// the string is used.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// showJSON renders a raw JSON value for a rejection reason.
func showJSON(v []byte) string {
	const max = 64
	if len(v) > max {
		cut := max
		for cut > 0 && !isRuneStart(v[cut]) {
			cut--
		}
		return string(v[:cut]) + "…"
	}
	return string(v)
}

// jsonRows converts JSON objects into rows of cells for a schema.
type jsonRows struct {
	names  []string
	kinds  []kind
	strict []bool
	index  map[string]int
	vals   [][]byte
	gen    []uint32
	cur    uint32
	cells  []cell
}

func newJSONRows(s Schema, kinds []kind) *jsonRows {
	p := &jsonRows{
		names:  make([]string, len(s)),
		kinds:  kinds,
		strict: make([]bool, len(s)),
		index:  make(map[string]int, len(s)),
		vals:   make([][]byte, len(s)),
		gen:    make([]uint32, len(s)),
		cells:  make([]cell, len(s)),
	}
	for i, c := range s {
		p.names[i] = c.Name
		p.strict[i] = c.Strict
		p.index[c.Name] = i
	}
	return p
}

// convert converts the valid JSON text obj into p.cells. On failure it returns
// the rejection reason.
func (p *jsonRows) convert(obj []byte) (string, bool) {
	m, ok := newJSONMembers(obj)
	if !ok {
		return "not a JSON object: " + jsonKind(obj), false
	}
	p.cur++
	if p.cur == 0 {
		clear(p.gen)
		p.cur = 1
	}
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		key, ok := jsonKey(k)
		if !ok {
			return "invalid key " + showJSON(k), false
		}
		if i, found := p.index[string(key)]; found {
			p.vals[i] = v
			p.gen[i] = p.cur
		}
	}
	for i, k := range p.kinds {
		c := &p.cells[i]
		if p.gen[i] != p.cur {
			c.null = true
			continue
		}
		if reason, ok := convertJSONValue(k, p.vals[i], p.strict[i], c); !ok {
			if reason == "" {
				reason = "cannot parse " + showJSON(p.vals[i]) + " as " + k.String()
			}
			return "column " + strconv.Quote(p.names[i]) + ": " + reason, false
		}
	}
	return "", true
}

// jsonKind names the kind of the valid JSON value v.
func jsonKind(v []byte) string {
	v = trimJSONSpace(v)
	switch v[0] {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	}
	return "number"
}

var errInvalidUTF8 = errors.New("invalid UTF-8")

// convertJSONValue converts the valid JSON value v to kind k. An empty
// reason with ok false means the generic "cannot parse" reason. A strict
// column takes a number only when its value is the same decimal number,
// and a string only as parseStrict accepts it.
func convertJSONValue(k kind, v []byte, strict bool, c *cell) (string, bool) {
	c.null, c.raw = false, false
	switch v[0] {
	case 'n':
		c.null = true
		return "", true
	case '"':
		s, ok := jsonString(v)
		if !ok {
			return errInvalidUTF8.Error() + " in " + showJSON(v), false
		}
		if k == kindString {
			c.raw, c.b = true, s
			return "", true
		}
		t := trimSpace(bytesString(s))
		if t == "" {
			c.null = true
			return "", true
		}
		if strict {
			return "", parseStrict(k, t, c)
		}
		return "", parseText(k, t, c)
	case 't', 'f':
		switch k {
		case kindBool:
			c.i = boolInt(v[0] == 't')
			return "", true
		case kindString:
			c.raw, c.b = true, v
			return "", true
		}
		return "", false
	case '{', '[':
		if k == kindString {
			if !utf8.Valid(v) {
				return errInvalidUTF8.Error() + " in " + showJSON(v), false
			}
			c.raw, c.b = true, v
			return "", true
		}
		return "", false
	}
	// A number.
	s := bytesString(v)
	switch k {
	case kindInt64:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			c.i = n
			return "", true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
			return "", false
		}
		c.i = int64(f)
		if strict && !decimalEqual(s, strconv.FormatInt(c.i, 10)) {
			return "", false
		}
		return "", true
	case kindFloat64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || (strict && !sameDecimal(s, f)) {
			return "", false
		}
		c.f = f
		return "", true
	case kindString:
		c.raw, c.b = true, v
		return "", true
	}
	return "", false
}

// jsonSyntaxReason describes why json.Valid rejected b.
func jsonSyntaxReason(b []byte) string {
	var raw json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return "invalid JSON: " + err.Error()
	}
	return "invalid JSON"
}

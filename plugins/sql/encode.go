package sql

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgtype"
)

// PostgreSQL type OIDs used by the fast paths.
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidJSONB       = 3802
)

// pgEpochMicros is 2000-01-01 in Unix microseconds; pgEpochDays in Unix days.
const (
	pgEpochMicros = 946684800000000
	pgEpochDays   = 10957
)

// copyHeader starts a binary COPY stream; copyTrailer ends it.
var (
	copyHeader  = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	copyTrailer = []byte{0xff, 0xff}
)

// column is a target table column.
type column struct {
	Name    string
	OID     uint32
	TypeStr string
}

// encodeFn appends one value (length prefix and bytes) of row i.
type encodeFn func(buf []byte, i int) ([]byte, error)

// planFn binds an encoder to one batch's column.
type planFn func(arr arrow.Array) encodeFn

var typeMap = pgtype.NewMap()

// mismatch is the error for an Arrow type that cannot go into a column.
func mismatch(col string, at arrow.DataType, pgType string) error {
	return fmt.Errorf("column %q: Arrow type %s cannot be written to PostgreSQL column of type %s", col, at, pgType)
}

func appendLen(buf []byte, n int) []byte { return binary.BigEndian.AppendUint32(buf, uint32(n)) }

// planColumn chooses how Arrow values of type at are encoded for a column
// of PostgreSQL type c.OID, or returns a type mismatch error naming both.
func planColumn(c column, at arrow.DataType) (planFn, error) {
	switch {
	case isInt(at):
		switch c.OID {
		case oidInt2, oidInt4, oidInt8, oidFloat4, oidFloat8, oidText, oidVarchar, oidBPChar:
			return func(arr arrow.Array) encodeFn {
				get := intGetter(arr)
				return func(buf []byte, i int) ([]byte, error) {
					v, err := get(i)
					if err != nil {
						return buf, fmt.Errorf("column %q: %w", c.Name, err)
					}
					return appendInt(buf, c, v)
				}
			}, nil
		case oidNumeric:
			return genericPlan(c, at, func(arr arrow.Array) func(int) (any, error) {
				get := intGetter(arr)
				return func(i int) (any, error) { return get(i) }
			})
		}
	case at.ID() == arrow.FLOAT32 || at.ID() == arrow.FLOAT64 || at.ID() == arrow.FLOAT16:
		switch c.OID {
		case oidFloat4, oidFloat8:
			return func(arr arrow.Array) encodeFn {
				get := floatGetter(arr)
				return func(buf []byte, i int) ([]byte, error) {
					v := get(i)
					if c.OID == oidFloat4 {
						return binary.BigEndian.AppendUint32(appendLen(buf, 4), math.Float32bits(float32(v))), nil
					}
					return binary.BigEndian.AppendUint64(appendLen(buf, 8), math.Float64bits(v)), nil
				}
			}, nil
		case oidNumeric:
			return genericPlan(c, at, func(arr arrow.Array) func(int) (any, error) {
				get := floatGetter(arr)
				return func(i int) (any, error) { return get(i), nil }
			})
		case oidText, oidVarchar, oidBPChar:
			return func(arr arrow.Array) encodeFn {
				get := floatGetter(arr)
				return func(buf []byte, i int) ([]byte, error) {
					s := strconv.FormatFloat(get(i), 'g', -1, 64)
					return append(appendLen(buf, len(s)), s...), nil
				}
			}, nil
		}
	case at.ID() == arrow.STRING || at.ID() == arrow.LARGE_STRING || at.ID() == arrow.STRING_VIEW:
		switch c.OID {
		case oidText, oidVarchar, oidBPChar, oidName, oidJSON, oidBytea:
			return func(arr arrow.Array) encodeFn {
				get := stringGetter(arr)
				return func(buf []byte, i int) ([]byte, error) {
					s := get(i)
					return append(appendLen(buf, len(s)), s...), nil
				}
			}, nil
		case oidJSONB:
			return func(arr arrow.Array) encodeFn {
				get := stringGetter(arr)
				return func(buf []byte, i int) ([]byte, error) {
					s := get(i)
					return append(append(appendLen(buf, len(s)+1), 1), s...), nil
				}
			}, nil
		default:
			// uuid, numeric, inet, ... parsed by pgx from the text.
			return genericPlan(c, at, func(arr arrow.Array) func(int) (any, error) {
				get := stringGetter(arr)
				return func(i int) (any, error) { return get(i), nil }
			})
		}
	case at.ID() == arrow.BOOL:
		if c.OID == oidBool {
			return func(arr arrow.Array) encodeFn {
				a := arr.(*array.Boolean)
				return func(buf []byte, i int) ([]byte, error) {
					b := byte(0)
					if a.Value(i) {
						b = 1
					}
					return append(appendLen(buf, 1), b), nil
				}
			}, nil
		}
	case at.ID() == arrow.DATE32 || at.ID() == arrow.DATE64:
		if c.OID == oidDate {
			return func(arr arrow.Array) encodeFn {
				days := dateGetter(arr)
				return func(buf []byte, i int) ([]byte, error) {
					return binary.BigEndian.AppendUint32(appendLen(buf, 4), uint32(int32(days(i)-pgEpochDays))), nil
				}
			}, nil
		}
		if c.OID == oidTimestamp || c.OID == oidTimestamptz {
			return func(arr arrow.Array) encodeFn {
				days := dateGetter(arr)
				return func(buf []byte, i int) ([]byte, error) {
					return binary.BigEndian.AppendUint64(appendLen(buf, 8), uint64(days(i)*86400_000000-pgEpochMicros)), nil
				}
			}, nil
		}
	case at.ID() == arrow.TIMESTAMP:
		unit := at.(*arrow.TimestampType).Unit
		switch c.OID {
		case oidTimestamp, oidTimestamptz:
			return func(arr arrow.Array) encodeFn {
				a := arr.(*array.Timestamp)
				return func(buf []byte, i int) ([]byte, error) {
					return binary.BigEndian.AppendUint64(appendLen(buf, 8), uint64(toMicros(int64(a.Value(i)), unit)-pgEpochMicros)), nil
				}
			}, nil
		case oidDate:
			return func(arr arrow.Array) encodeFn {
				a := arr.(*array.Timestamp)
				return func(buf []byte, i int) ([]byte, error) {
					us := toMicros(int64(a.Value(i)), unit)
					d := floorDiv(us, 86400_000000)
					return binary.BigEndian.AppendUint32(appendLen(buf, 4), uint32(int32(d-pgEpochDays))), nil
				}
			}, nil
		}
	case at.ID() == arrow.BINARY || at.ID() == arrow.LARGE_BINARY || at.ID() == arrow.FIXED_SIZE_BINARY:
		if c.OID == oidBytea {
			return func(arr arrow.Array) encodeFn {
				get := bytesGetter(arr)
				return func(buf []byte, i int) ([]byte, error) {
					b := get(i)
					return append(appendLen(buf, len(b)), b...), nil
				}
			}, nil
		}
		if c.OID != oidText && c.OID != oidVarchar {
			return genericPlan(c, at, func(arr arrow.Array) func(int) (any, error) {
				get := bytesGetter(arr)
				return func(i int) (any, error) { return get(i), nil }
			})
		}
	case at.ID() == arrow.DECIMAL128:
		scale := at.(*arrow.Decimal128Type).Scale
		switch c.OID {
		case oidNumeric:
			return genericPlan(c, at, func(arr arrow.Array) func(int) (any, error) {
				a := arr.(*array.Decimal128)
				return func(i int) (any, error) {
					return pgtype.Numeric{Int: a.Value(i).BigInt(), Exp: -scale, Valid: true}, nil
				}
			})
		case oidFloat8, oidFloat4:
			return genericPlan(c, at, func(arr arrow.Array) func(int) (any, error) {
				a := arr.(*array.Decimal128)
				return func(i int) (any, error) { return a.Value(i).ToFloat64(scale), nil }
			})
		}
	case at.ID() == arrow.LIST || at.ID() == arrow.LARGE_LIST:
		return genericPlan(c, at, func(arr arrow.Array) func(int) (any, error) {
			l := arr.(array.ListLike)
			elem := l.ListValues()
			return func(i int) (any, error) {
				start, end := l.ValueOffsets(i)
				out := make([]any, 0, end-start)
				for j := int(start); j < int(end); j++ {
					v, err := goValue(elem, j)
					if err != nil {
						return nil, fmt.Errorf("column %q: %w", c.Name, err)
					}
					out = append(out, v)
				}
				return out, nil
			}
		})
	}
	return nil, mismatch(c.Name, at, c.TypeStr)
}

// genericPlan encodes values through pgx's type map, after checking with a
// sample value that pgx can encode the Go type into the column type.
func genericPlan(c column, at arrow.DataType, getter func(arr arrow.Array) func(int) (any, error)) (planFn, error) {
	if typeMap.PlanEncode(c.OID, pgtype.BinaryFormatCode, sampleValue(at)) == nil {
		return nil, mismatch(c.Name, at, c.TypeStr)
	}
	return func(arr arrow.Array) encodeFn {
		get := getter(arr)
		return func(buf []byte, i int) ([]byte, error) {
			v, err := get(i)
			if err != nil {
				return buf, err
			}
			start := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			out, err := typeMap.Encode(c.OID, pgtype.BinaryFormatCode, v, buf)
			if err != nil {
				return buf[:start], fmt.Errorf("column %q (%s): %w", c.Name, c.TypeStr, err)
			}
			if out == nil {
				return binary.BigEndian.AppendUint32(buf[:start], 0xffffffff), nil
			}
			binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
			return out, nil
		}
	}, nil
}

func sampleValue(at arrow.DataType) any {
	switch {
	case isInt(at):
		return int64(1)
	case at.ID() == arrow.FLOAT32 || at.ID() == arrow.FLOAT64 || at.ID() == arrow.FLOAT16:
		return float64(1)
	case at.ID() == arrow.STRING || at.ID() == arrow.LARGE_STRING || at.ID() == arrow.STRING_VIEW:
		return ""
	case at.ID() == arrow.DECIMAL128:
		return pgtype.Numeric{Int: big.NewInt(1), Valid: true}
	case at.ID() == arrow.LIST || at.ID() == arrow.LARGE_LIST:
		return []any{sampleValue(at.(arrow.ListLikeType).Elem())}
	case at.ID() == arrow.BOOL:
		return true
	case at.ID() == arrow.BINARY || at.ID() == arrow.LARGE_BINARY:
		return []byte{}
	case at.ID() == arrow.TIMESTAMP || at.ID() == arrow.DATE32 || at.ID() == arrow.DATE64:
		return time.Time{}
	}
	return struct{}{}
}

// goValue is the Go value of arr[i] for pgx (nil for null).
func goValue(arr arrow.Array, i int) (any, error) {
	if arr.IsNull(i) {
		return nil, nil
	}
	at := arr.DataType()
	switch {
	case isInt(at):
		return intGetter(arr)(i)
	case at.ID() == arrow.FLOAT32 || at.ID() == arrow.FLOAT64 || at.ID() == arrow.FLOAT16:
		return floatGetter(arr)(i), nil
	case at.ID() == arrow.STRING || at.ID() == arrow.LARGE_STRING || at.ID() == arrow.STRING_VIEW:
		return stringGetter(arr)(i), nil
	case at.ID() == arrow.BOOL:
		return arr.(*array.Boolean).Value(i), nil
	case at.ID() == arrow.DATE32 || at.ID() == arrow.DATE64:
		return time.Unix(dateGetter(arr)(i)*86400, 0).UTC(), nil
	case at.ID() == arrow.TIMESTAMP:
		us := toMicros(int64(arr.(*array.Timestamp).Value(i)), at.(*arrow.TimestampType).Unit)
		return time.UnixMicro(us).UTC(), nil
	case at.ID() == arrow.DECIMAL128:
		return pgtype.Numeric{Int: arr.(*array.Decimal128).Value(i).BigInt(), Exp: -at.(*arrow.Decimal128Type).Scale, Valid: true}, nil
	case at.ID() == arrow.BINARY || at.ID() == arrow.LARGE_BINARY || at.ID() == arrow.FIXED_SIZE_BINARY:
		return bytesGetter(arr)(i), nil
	}
	return nil, fmt.Errorf("arrays of Arrow type %s are not supported", at)
}

func isInt(at arrow.DataType) bool {
	switch at.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func intGetter(arr arrow.Array) func(int) (int64, error) {
	switch a := arr.(type) {
	case *array.Int64:
		return func(i int) (int64, error) { return a.Value(i), nil }
	case *array.Int32:
		return func(i int) (int64, error) { return int64(a.Value(i)), nil }
	case *array.Int16:
		return func(i int) (int64, error) { return int64(a.Value(i)), nil }
	case *array.Int8:
		return func(i int) (int64, error) { return int64(a.Value(i)), nil }
	case *array.Uint8:
		return func(i int) (int64, error) { return int64(a.Value(i)), nil }
	case *array.Uint16:
		return func(i int) (int64, error) { return int64(a.Value(i)), nil }
	case *array.Uint32:
		return func(i int) (int64, error) { return int64(a.Value(i)), nil }
	case *array.Uint64:
		return func(i int) (int64, error) {
			v := a.Value(i)
			if v > math.MaxInt64 {
				return 0, fmt.Errorf("value %d out of range of bigint", v)
			}
			return int64(v), nil
		}
	}
	panic(fmt.Sprintf("intGetter: %T", arr))
}

// appendInt encodes v for an integer, float or text column, checking range.
func appendInt(buf []byte, c column, v int64) ([]byte, error) {
	switch c.OID {
	case oidInt2:
		if v < math.MinInt16 || v > math.MaxInt16 {
			return buf, fmt.Errorf("column %q: value %d out of range for type smallint", c.Name, v)
		}
		return binary.BigEndian.AppendUint16(appendLen(buf, 2), uint16(int16(v))), nil
	case oidInt4:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return buf, fmt.Errorf("column %q: value %d out of range for type integer", c.Name, v)
		}
		return binary.BigEndian.AppendUint32(appendLen(buf, 4), uint32(int32(v))), nil
	case oidInt8:
		return binary.BigEndian.AppendUint64(appendLen(buf, 8), uint64(v)), nil
	case oidFloat4:
		return binary.BigEndian.AppendUint32(appendLen(buf, 4), math.Float32bits(float32(v))), nil
	case oidFloat8:
		return binary.BigEndian.AppendUint64(appendLen(buf, 8), math.Float64bits(float64(v))), nil
	}
	s := strconv.FormatInt(v, 10)
	return append(appendLen(buf, len(s)), s...), nil
}

func floatGetter(arr arrow.Array) func(int) float64 {
	switch a := arr.(type) {
	case *array.Float64:
		return a.Value
	case *array.Float32:
		return func(i int) float64 { return float64(a.Value(i)) }
	case *array.Float16:
		return func(i int) float64 { return float64(a.Value(i).Float32()) }
	}
	panic(fmt.Sprintf("floatGetter: %T", arr))
}

func stringGetter(arr arrow.Array) func(int) string {
	switch a := arr.(type) {
	case *array.String:
		return a.Value
	case *array.LargeString:
		return a.Value
	case *array.StringView:
		return a.Value
	}
	panic(fmt.Sprintf("stringGetter: %T", arr))
}

func bytesGetter(arr arrow.Array) func(int) []byte {
	switch a := arr.(type) {
	case *array.Binary:
		return a.Value
	case *array.LargeBinary:
		return a.Value
	case *array.FixedSizeBinary:
		return a.Value
	case *array.String:
		return func(i int) []byte { return []byte(a.Value(i)) }
	}
	panic(fmt.Sprintf("bytesGetter: %T", arr))
}

// dateGetter returns Unix days.
func dateGetter(arr arrow.Array) func(int) int64 {
	switch a := arr.(type) {
	case *array.Date32:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date64:
		return func(i int) int64 { return floorDiv(int64(a.Value(i)), 86400_000) }
	}
	panic(fmt.Sprintf("dateGetter: %T", arr))
}

func toMicros(v int64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return v * 1_000_000
	case arrow.Millisecond:
		return v * 1000
	case arrow.Nanosecond:
		return floorDiv(v, 1000)
	}
	return v
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// pgTypeFor is the column type create_table uses for an Arrow type.
func pgTypeFor(at arrow.DataType) (string, error) {
	switch at.ID() {
	case arrow.INT8, arrow.INT16, arrow.UINT8:
		return "smallint", nil
	case arrow.INT32, arrow.UINT16:
		return "integer", nil
	case arrow.INT64, arrow.UINT32, arrow.UINT64:
		return "bigint", nil
	case arrow.FLOAT16, arrow.FLOAT32:
		return "real", nil
	case arrow.FLOAT64:
		return "double precision", nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return "text", nil
	case arrow.BOOL:
		return "boolean", nil
	case arrow.DATE32, arrow.DATE64:
		return "date", nil
	case arrow.TIMESTAMP:
		if at.(*arrow.TimestampType).TimeZone != "" {
			return "timestamptz", nil
		}
		return "timestamp", nil
	case arrow.DECIMAL128:
		d := at.(*arrow.Decimal128Type)
		return fmt.Sprintf("numeric(%d,%d)", d.Precision, d.Scale), nil
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY:
		return "bytea", nil
	case arrow.LIST, arrow.LARGE_LIST:
		e, err := pgTypeFor(at.(arrow.ListLikeType).Elem())
		if err != nil {
			return "", err
		}
		return e + "[]", nil
	}
	return "", fmt.Errorf("no PostgreSQL type for Arrow type %s", at)
}

// rowJSON renders row i of rec as a JSON object, for rejected rows.
func rowJSON(rec arrow.RecordBatch, i int) []byte {
	m := make(map[string]any, rec.NumCols())
	for j, f := range rec.Schema().Fields() {
		m[f.Name] = rec.Column(j).GetOneForMarshal(i)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return []byte(fmt.Sprintf("%v", m))
	}
	return b
}

package sql

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Array type OIDs read as Arrow lists.
const (
	oidInt2Array    = 1005
	oidInt4Array    = 1007
	oidInt8Array    = 1016
	oidFloat4Array  = 1021
	oidFloat8Array  = 1022
	oidTextArray    = 1009
	oidVarcharArray = 1015
	oidBoolArray    = 1000
	oidUUID         = 2950
)

// decoder appends one PostgreSQL value (binary format unless text is set)
// to an Arrow builder.
type decoder struct {
	field  arrow.Field
	text   bool // requested in text format
	append func(b array.Builder, raw []byte) error
}

// binaryOIDs are the types decoded from the binary format; every other type
// is requested in text format and read as a string.
var binaryOIDs = map[uint32]bool{
	oidInt2: true, oidInt4: true, oidInt8: true, oidFloat4: true, oidFloat8: true, oidBool: true,
	oidText: true, oidVarchar: true, oidBPChar: true, oidName: true, oidJSON: true, oidJSONB: true,
	oidBytea: true, oidDate: true, oidTimestamp: true, oidTimestamptz: true, oidNumeric: true, oidUUID: true,
	oidInt2Array: true, oidInt4Array: true, oidInt8Array: true, oidFloat4Array: true, oidFloat8Array: true,
	oidTextArray: true, oidVarcharArray: true, oidBoolArray: true,
}

// decoderFor maps a result column to an Arrow field and decoder.
func decoderFor(fd pgconn.FieldDescription) decoder {
	name := fd.Name
	f := func(t arrow.DataType) arrow.Field { return arrow.Field{Name: name, Type: t, Nullable: true} }
	switch fd.DataTypeOID {
	case oidInt2:
		return decoder{field: f(arrow.PrimitiveTypes.Int16), append: func(b array.Builder, raw []byte) error {
			b.(*array.Int16Builder).Append(int16(binary.BigEndian.Uint16(raw)))
			return nil
		}}
	case oidInt4:
		return decoder{field: f(arrow.PrimitiveTypes.Int32), append: func(b array.Builder, raw []byte) error {
			b.(*array.Int32Builder).Append(int32(binary.BigEndian.Uint32(raw)))
			return nil
		}}
	case oidInt8:
		return decoder{field: f(arrow.PrimitiveTypes.Int64), append: func(b array.Builder, raw []byte) error {
			b.(*array.Int64Builder).Append(int64(binary.BigEndian.Uint64(raw)))
			return nil
		}}
	case oidFloat4:
		return decoder{field: f(arrow.PrimitiveTypes.Float32), append: func(b array.Builder, raw []byte) error {
			b.(*array.Float32Builder).Append(math.Float32frombits(binary.BigEndian.Uint32(raw)))
			return nil
		}}
	case oidFloat8:
		return decoder{field: f(arrow.PrimitiveTypes.Float64), append: func(b array.Builder, raw []byte) error {
			b.(*array.Float64Builder).Append(math.Float64frombits(binary.BigEndian.Uint64(raw)))
			return nil
		}}
	case oidBool:
		return decoder{field: f(arrow.FixedWidthTypes.Boolean), append: func(b array.Builder, raw []byte) error {
			b.(*array.BooleanBuilder).Append(raw[0] != 0)
			return nil
		}}
	case oidText, oidVarchar, oidBPChar, oidName, oidJSON:
		return decoder{field: f(arrow.BinaryTypes.String), append: func(b array.Builder, raw []byte) error {
			b.(*array.StringBuilder).BinaryBuilder.Append(raw)
			return nil
		}}
	case oidJSONB:
		return decoder{field: f(arrow.BinaryTypes.String), append: func(b array.Builder, raw []byte) error {
			if len(raw) > 0 && raw[0] == 1 {
				raw = raw[1:]
			}
			b.(*array.StringBuilder).BinaryBuilder.Append(raw)
			return nil
		}}
	case oidUUID:
		return decoder{field: f(arrow.BinaryTypes.String), append: func(b array.Builder, raw []byte) error {
			var u pgtype.UUID
			if err := typeMap.Scan(oidUUID, pgtype.BinaryFormatCode, raw, &u); err != nil {
				return err
			}
			v, _ := u.Value()
			b.(*array.StringBuilder).Append(v.(string))
			return nil
		}}
	case oidBytea:
		return decoder{field: f(arrow.BinaryTypes.Binary), append: func(b array.Builder, raw []byte) error {
			b.(*array.BinaryBuilder).Append(raw)
			return nil
		}}
	case oidDate:
		return decoder{field: f(arrow.FixedWidthTypes.Date32), append: func(b array.Builder, raw []byte) error {
			b.(*array.Date32Builder).Append(arrow.Date32(int32(binary.BigEndian.Uint32(raw)) + pgEpochDays))
			return nil
		}}
	case oidTimestamp, oidTimestamptz:
		t := &arrow.TimestampType{Unit: arrow.Microsecond}
		if fd.DataTypeOID == oidTimestamptz {
			t.TimeZone = "UTC"
		}
		return decoder{field: f(t), append: func(b array.Builder, raw []byte) error {
			v := int64(binary.BigEndian.Uint64(raw))
			switch v {
			case math.MaxInt64, math.MinInt64: // infinity
				return fmt.Errorf("column %q: infinite timestamps have no Arrow value", name)
			}
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(v + pgEpochMicros))
			return nil
		}}
	case oidNumeric:
		// numeric(p,s) with p <= 38 -> decimal128(p,s); otherwise the exact
		// decimal text as a string.
		if fd.TypeModifier >= 4 {
			p := int32((fd.TypeModifier - 4) >> 16)
			s := int32((fd.TypeModifier - 4) & 0xffff)
			if p >= 1 && p <= 38 {
				return decoder{field: f(&arrow.Decimal128Type{Precision: p, Scale: s}), append: func(b array.Builder, raw []byte) error {
					var n pgtype.Numeric
					if err := typeMap.Scan(oidNumeric, pgtype.BinaryFormatCode, raw, &n); err != nil {
						return err
					}
					if n.NaN || n.InfinityModifier != 0 {
						return fmt.Errorf("column %q: NaN or infinite numeric has no decimal128 value", name)
					}
					v := new(big.Int).Set(n.Int)
					shift := int64(n.Exp) + int64(s)
					ten := big.NewInt(10)
					if shift > 0 {
						v.Mul(v, new(big.Int).Exp(ten, big.NewInt(shift), nil))
					} else if shift < 0 {
						v.Quo(v, new(big.Int).Exp(ten, big.NewInt(-shift), nil))
					}
					b.(*array.Decimal128Builder).Append(decimal128.FromBigInt(v))
					return nil
				}}
			}
		}
		return decoder{field: f(arrow.BinaryTypes.String), append: func(b array.Builder, raw []byte) error {
			var n pgtype.Numeric
			if err := typeMap.Scan(oidNumeric, pgtype.BinaryFormatCode, raw, &n); err != nil {
				return err
			}
			v, err := n.Value()
			if err != nil {
				return err
			}
			b.(*array.StringBuilder).Append(v.(string))
			return nil
		}}
	case oidInt2Array, oidInt4Array, oidInt8Array:
		return listDecoder[int64](fd, f(arrow.ListOf(arrow.PrimitiveTypes.Int64)), func(b array.Builder, v int64) { b.(*array.Int64Builder).Append(v) })
	case oidFloat4Array, oidFloat8Array:
		return listDecoder[float64](fd, f(arrow.ListOf(arrow.PrimitiveTypes.Float64)), func(b array.Builder, v float64) { b.(*array.Float64Builder).Append(v) })
	case oidTextArray, oidVarcharArray:
		return listDecoder[string](fd, f(arrow.ListOf(arrow.BinaryTypes.String)), func(b array.Builder, v string) { b.(*array.StringBuilder).Append(v) })
	case oidBoolArray:
		return listDecoder[bool](fd, f(arrow.ListOf(arrow.FixedWidthTypes.Boolean)), func(b array.Builder, v bool) { b.(*array.BooleanBuilder).Append(v) })
	}
	// Anything else (interval, inet, enums, other arrays, ...): its text.
	return decoder{field: f(arrow.BinaryTypes.String), text: true, append: func(b array.Builder, raw []byte) error {
		b.(*array.StringBuilder).BinaryBuilder.Append(raw)
		return nil
	}}
}

func listDecoder[T any](fd pgconn.FieldDescription, field arrow.Field, add func(array.Builder, T)) decoder {
	oid := fd.DataTypeOID
	return decoder{field: field, append: func(b array.Builder, raw []byte) error {
		var vals []*T
		if err := typeMap.Scan(oid, pgtype.BinaryFormatCode, raw, &vals); err != nil {
			return fmt.Errorf("column %q: %w", fd.Name, err)
		}
		lb := b.(*array.ListBuilder)
		lb.Append(true)
		vb := lb.ValueBuilder()
		for _, v := range vals {
			if v == nil {
				vb.AppendNull()
			} else {
				add(vb, *v)
			}
		}
		return nil
	}}
}

package transform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/compute/exec"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/invopop/jsonschema"
)

// castType is a target type name of the "cast" transform.
type castType string

const (
	castInt64     castType = "int64"
	castFloat64   castType = "float64"
	castBool      castType = "bool"
	castString    castType = "string"
	castTimestamp castType = "timestamp"
	castDate      castType = "date"
)

// castTypes lists the valid target types, sorted.
var castTypes = []castType{castBool, castDate, castFloat64, castInt64, castString, castTimestamp}

// JSONSchema describes a cast target type as a string enum.
func (castType) JSONSchema() *jsonschema.Schema {
	enum := make([]any, len(castTypes))
	for i, t := range castTypes {
		enum[i] = string(t)
	}
	return &jsonschema.Schema{
		Type:        "string",
		Enum:        enum,
		Description: "Target type: int64, float64, bool, string, timestamp (microseconds, UTC) or date (date32).",
	}
}

// dataType is the Arrow type a cast target produces.
func (t castType) dataType() arrow.DataType {
	switch t {
	case castInt64:
		return arrow.PrimitiveTypes.Int64
	case castFloat64:
		return arrow.PrimitiveTypes.Float64
	case castBool:
		return arrow.FixedWidthTypes.Boolean
	case castString:
		return arrow.BinaryTypes.String
	case castTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case castDate:
		return arrow.FixedWidthTypes.Date32
	}
	return nil
}

// castConfig is the config of the "cast" transform.
type castConfig struct {
	Columns map[string]castType `json:"columns" jsonschema:"required" jsonschema_description:"Map of column name to target type."`
}

// JSONSchemaExtend requires at least one column.
func (castConfig) JSONSchemaExtend(s *jsonschema.Schema) {
	if p, ok := s.Properties.Get("columns"); ok {
		one := uint64(1)
		p.MinProperties = &one
	}
}

type castColumn struct {
	name string
	to   castType
}

type castTransform struct {
	columns []castColumn // sorted by name
}

func newCast(cfg *castConfig) (Transform, error) {
	if len(cfg.Columns) == 0 {
		return nil, configErr("columns", "must cast at least one column")
	}
	cols := make([]castColumn, 0, len(cfg.Columns))
	for name, to := range cfg.Columns {
		cols = append(cols, castColumn{name: name, to: to})
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].name < cols[j].name })
	for _, c := range cols {
		path := "columns." + c.name
		if c.name == "" {
			return nil, configErr(path, "column name must not be empty")
		}
		if c.to.dataType() == nil {
			names := make([]string, len(castTypes))
			for i, t := range castTypes {
				names[i] = string(t)
			}
			return nil, configErr(path, "unknown type %q (valid types: %s)", string(c.to), strings.Join(names, ", "))
		}
	}
	return &castTransform{columns: cols}, nil
}

// Apply implements Transform. Values that cannot be converted reject their
// row; a column whose type cannot be converted to the target at all, or a
// missing column, fails the batch.
func (t *castTransform) Apply(ctx context.Context, rec arrow.Record) (arrow.Record, []RowError, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("cast: %w", err)
	}
	s := rec.Schema()
	n := int(rec.NumRows())

	type job struct {
		idx int
		castColumn
	}
	jobs := make([]job, 0, len(t.columns))
	for _, c := range t.columns {
		idx, ok := columnIndex(s, c.name)
		if !ok {
			return nil, nil, missingColumn("cast", c.name, s)
		}
		jobs = append(jobs, job{idx: idx, castColumn: c})
	}
	// Convert in schema order so multi-column reasons are deterministic.
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].idx < jobs[j].idx })

	mem := exec.GetAllocator(ctx)
	fields := append([]arrow.Field(nil), s.Fields()...)
	cols := append([]arrow.Array(nil), rec.Columns()...)
	var created []arrow.Array
	defer func() {
		for _, a := range created {
			a.Release()
		}
	}()

	var reasons []string // per input row; "" means accepted
	for _, j := range jobs {
		src := rec.Column(j.idx)
		dt := j.to.dataType()
		if arrow.TypeEqual(src.DataType(), dt) {
			continue
		}
		prefix := fmt.Sprintf("cast column %q to %s: ", j.name, j.to)
		fail := func(row int, detail string) {
			if reasons == nil {
				reasons = make([]string, n)
			}
			if reasons[row] != "" {
				reasons[row] += "; "
			}
			reasons[row] += prefix + detail
		}
		out, err := castArray(mem, src, j.to, fail)
		if err != nil {
			return nil, nil, fmt.Errorf("cast: column %q: %w", j.name, err)
		}
		created = append(created, out)
		cols[j.idx] = out
		fields[j.idx].Type = dt
	}

	out := array.NewRecordBatch(arrow.NewSchema(fields, schemaMetadata(s)), cols, int64(n))
	if reasons == nil {
		return out, nil, nil
	}
	defer out.Release()

	var rowErrs []RowError
	keep := make([]bool, n)
	for i, r := range reasons {
		if r == "" {
			keep[i] = true
			continue
		}
		rowErrs = append(rowErrs, RowError{Row: i, Record: rowJSON(rec, i), Reason: r})
	}
	filtered, err := filterByMask(ctx, out, keep)
	if err != nil {
		return nil, nil, fmt.Errorf("cast: drop rejected rows: %w", err)
	}
	return filtered, rowErrs, nil
}

// filterByMask returns the rows of rec whose keep entry is true.
func filterByMask(ctx context.Context, rec arrow.Record, keep []bool) (arrow.Record, error) {
	b := array.NewBooleanBuilder(exec.GetAllocator(ctx))
	defer b.Release()
	b.AppendValues(keep, nil)
	mask := b.NewArray()
	defer mask.Release()
	return compute.FilterRecordBatch(ctx, rec, mask, compute.DefaultFilterOptions())
}

// errUnsupportedCast is wrapped when a column's type cannot be converted to
// the requested target type.
var errUnsupportedCast = errors.New("unsupported conversion")

type srcKind int

const (
	srcInt srcKind = iota
	srcUint
	srcFloat
	srcBool
	srcString
	srcTimestamp
	srcDate
)

// source gives typed access to the non-null values of a column.
type source struct {
	kind  srcKind
	i     func(int) int64
	u     func(int) uint64
	f     func(int) float64
	fbits int
	b     func(int) bool
	s     func(int) string
	t     func(int) time.Time
}

func newSource(a arrow.Array) (source, bool) {
	switch a := a.(type) {
	case *array.Int8:
		return source{kind: srcInt, i: func(i int) int64 { return int64(a.Value(i)) }}, true
	case *array.Int16:
		return source{kind: srcInt, i: func(i int) int64 { return int64(a.Value(i)) }}, true
	case *array.Int32:
		return source{kind: srcInt, i: func(i int) int64 { return int64(a.Value(i)) }}, true
	case *array.Int64:
		return source{kind: srcInt, i: a.Value}, true
	case *array.Uint8:
		return source{kind: srcUint, u: func(i int) uint64 { return uint64(a.Value(i)) }}, true
	case *array.Uint16:
		return source{kind: srcUint, u: func(i int) uint64 { return uint64(a.Value(i)) }}, true
	case *array.Uint32:
		return source{kind: srcUint, u: func(i int) uint64 { return uint64(a.Value(i)) }}, true
	case *array.Uint64:
		return source{kind: srcUint, u: a.Value}, true
	case *array.Float32:
		return source{kind: srcFloat, fbits: 32, f: func(i int) float64 { return float64(a.Value(i)) }}, true
	case *array.Float64:
		return source{kind: srcFloat, fbits: 64, f: a.Value}, true
	case *array.Boolean:
		return source{kind: srcBool, b: a.Value}, true
	case *array.String:
		return source{kind: srcString, s: a.Value}, true
	case *array.LargeString:
		return source{kind: srcString, s: a.Value}, true
	case *array.StringView:
		return source{kind: srcString, s: a.Value}, true
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return source{kind: srcTimestamp, t: func(i int) time.Time { return a.Value(i).ToTime(unit) }}, true
	case *array.Date32:
		return source{kind: srcDate, t: func(i int) time.Time { return a.Value(i).ToTime() }}, true
	case *array.Date64:
		return source{kind: srcDate, t: func(i int) time.Time { return a.Value(i).ToTime() }}, true
	}
	return source{}, false
}

// appender is the part of the typed Arrow builders used by runCast.
type appender[T any] interface {
	array.Builder
	Append(T)
}

// runCast converts every non-null value of src with conv; a value conv
// rejects (non-empty detail) is reported to fail and becomes null.
func runCast[T any](b appender[T], src arrow.Array, conv func(int) (T, string), fail func(int, string)) arrow.Array {
	defer b.Release()
	n := src.Len()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if src.IsNull(i) {
			b.AppendNull()
			continue
		}
		v, bad := conv(i)
		if bad != "" {
			fail(i, bad)
			b.AppendNull()
			continue
		}
		b.Append(v)
	}
	return b.NewArray()
}

// castArray converts src to the target type. Per-value failures go to fail;
// an error means the source type cannot be converted at all.
func castArray(mem memory.Allocator, src arrow.Array, to castType, fail func(int, string)) (arrow.Array, error) {
	sv, ok := newSource(src)
	unsupported := fmt.Errorf("%w from %s to %s", errUnsupportedCast, src.DataType(), to)
	if !ok {
		return nil, unsupported
	}
	switch to {
	case castInt64:
		conv := int64Conv(sv)
		if conv == nil {
			return nil, unsupported
		}
		return runCast[int64](array.NewInt64Builder(mem), src, conv, fail), nil
	case castFloat64:
		conv := float64Conv(sv)
		if conv == nil {
			return nil, unsupported
		}
		return runCast[float64](array.NewFloat64Builder(mem), src, conv, fail), nil
	case castBool:
		conv := boolConv(sv)
		if conv == nil {
			return nil, unsupported
		}
		return runCast[bool](array.NewBooleanBuilder(mem), src, conv, fail), nil
	case castString:
		conv := stringConv(sv)
		if conv == nil {
			return nil, unsupported
		}
		return runCast[string](array.NewStringBuilder(mem), src, conv, fail), nil
	case castTimestamp:
		conv := timestampConv(sv)
		if conv == nil {
			return nil, unsupported
		}
		b := array.NewTimestampBuilder(mem, to.dataType().(*arrow.TimestampType))
		return runCast[arrow.Timestamp](b, src, conv, fail), nil
	case castDate:
		conv := dateConv(sv)
		if conv == nil {
			return nil, unsupported
		}
		return runCast[arrow.Date32](array.NewDate32Builder(mem), src, conv, fail), nil
	}
	return nil, unsupported
}

const (
	minInt64Float = -9223372036854775808.0 // -2^63, exactly representable
	maxInt64Float = 9223372036854775808.0  // 2^63, first float64 above MaxInt64
)

func floatToInt64(v float64, bits int) (int64, string) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < minInt64Float || v >= maxInt64Float {
		return 0, fmt.Sprintf("value %s out of range", formatFloat(v, bits))
	}
	if v != math.Trunc(v) {
		return 0, fmt.Sprintf("value %s is not an integer", formatFloat(v, bits))
	}
	return int64(v), ""
}

func int64Conv(sv source) func(int) (int64, string) {
	switch sv.kind {
	case srcInt:
		return func(i int) (int64, string) { return sv.i(i), "" }
	case srcUint:
		return func(i int) (int64, string) {
			v := sv.u(i)
			if v > math.MaxInt64 {
				return 0, fmt.Sprintf("value %d out of range", v)
			}
			return int64(v), ""
		}
	case srcFloat:
		return func(i int) (int64, string) { return floatToInt64(sv.f(i), sv.fbits) }
	case srcBool:
		return func(i int) (int64, string) {
			if sv.b(i) {
				return 1, ""
			}
			return 0, ""
		}
	case srcString:
		return func(i int) (int64, string) {
			raw := sv.s(i)
			s := strings.TrimSpace(raw)
			v, err := strconv.ParseInt(s, 10, 64)
			if err == nil {
				return v, ""
			}
			if errors.Is(err, strconv.ErrRange) {
				return 0, fmt.Sprintf("value %q out of range", raw)
			}
			// Accept integral decimal notation such as "10.0" or "1e3".
			if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				if v, bad := floatToInt64(f, 64); bad == "" {
					return v, ""
				}
				if f != math.Trunc(f) {
					return 0, fmt.Sprintf("value %q is not an integer", raw)
				}
				return 0, fmt.Sprintf("value %q out of range", raw)
			}
			return 0, fmt.Sprintf("cannot parse %q", raw)
		}
	}
	return nil
}

func float64Conv(sv source) func(int) (float64, string) {
	switch sv.kind {
	case srcInt:
		return func(i int) (float64, string) { return float64(sv.i(i)), "" }
	case srcUint:
		return func(i int) (float64, string) { return float64(sv.u(i)), "" }
	case srcFloat:
		return func(i int) (float64, string) { return sv.f(i), "" }
	case srcBool:
		return func(i int) (float64, string) {
			if sv.b(i) {
				return 1, ""
			}
			return 0, ""
		}
	case srcString:
		return func(i int) (float64, string) {
			raw := sv.s(i)
			v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
			if err == nil {
				return v, ""
			}
			if errors.Is(err, strconv.ErrRange) {
				return 0, fmt.Sprintf("value %q out of range", raw)
			}
			return 0, fmt.Sprintf("cannot parse %q", raw)
		}
	}
	return nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "1", "yes", "y":
		return true, true
	case "false", "f", "0", "no", "n":
		return false, true
	}
	return false, false
}

func boolConv(sv source) func(int) (bool, string) {
	switch sv.kind {
	case srcInt:
		return func(i int) (bool, string) { return sv.i(i) != 0, "" }
	case srcUint:
		return func(i int) (bool, string) { return sv.u(i) != 0, "" }
	case srcFloat:
		return func(i int) (bool, string) { return sv.f(i) != 0, "" }
	case srcBool:
		return func(i int) (bool, string) { return sv.b(i), "" }
	case srcString:
		return func(i int) (bool, string) {
			raw := sv.s(i)
			if v, ok := parseBool(raw); ok {
				return v, ""
			}
			return false, fmt.Sprintf("cannot parse %q", raw)
		}
	}
	return nil
}

// formatFloat formats like encoding/json: plain decimal unless the
// magnitude is very small or very large.
func formatFloat(v float64, bits int) string {
	abs := math.Abs(v)
	format := byte('f')
	if abs != 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	return strconv.FormatFloat(v, format, -1, bits)
}

const dateLayout = "2006-01-02"

func stringConv(sv source) func(int) (string, string) {
	switch sv.kind {
	case srcInt:
		return func(i int) (string, string) { return strconv.FormatInt(sv.i(i), 10), "" }
	case srcUint:
		return func(i int) (string, string) { return strconv.FormatUint(sv.u(i), 10), "" }
	case srcFloat:
		return func(i int) (string, string) { return formatFloat(sv.f(i), sv.fbits), "" }
	case srcBool:
		return func(i int) (string, string) { return strconv.FormatBool(sv.b(i)), "" }
	case srcString:
		return func(i int) (string, string) { return sv.s(i), "" }
	case srcTimestamp:
		return func(i int) (string, string) { return sv.t(i).UTC().Format(time.RFC3339Nano), "" }
	case srcDate:
		return func(i int) (string, string) { return sv.t(i).UTC().Format(dateLayout), "" }
	}
	return nil
}

// timestampLayouts are tried in order when parsing strings as timestamps.
// Layouts without a zone are read as UTC. Fractional seconds are accepted
// after the seconds field of every layout.
var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	dateLayout,
}

func parseTimestamp(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func timestampConv(sv source) func(int) (arrow.Timestamp, string) {
	switch sv.kind {
	case srcString:
		return func(i int) (arrow.Timestamp, string) {
			raw := sv.s(i)
			t, ok := parseTimestamp(raw)
			if !ok {
				return 0, fmt.Sprintf("cannot parse %q", raw)
			}
			return arrow.Timestamp(t.UnixMicro()), ""
		}
	case srcTimestamp, srcDate:
		return func(i int) (arrow.Timestamp, string) { return arrow.Timestamp(sv.t(i).UnixMicro()), "" }
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func daysOf(t time.Time) (arrow.Date32, string) {
	d := floorDiv(t.Unix(), 86400)
	if d < math.MinInt32 || d > math.MaxInt32 {
		return 0, fmt.Sprintf("value %s out of range", t.Format(time.RFC3339Nano))
	}
	return arrow.Date32(d), ""
}

func dateConv(sv source) func(int) (arrow.Date32, string) {
	switch sv.kind {
	case srcString:
		return func(i int) (arrow.Date32, string) {
			raw := sv.s(i)
			t, err := time.Parse(dateLayout, strings.TrimSpace(raw))
			if err != nil {
				return 0, fmt.Sprintf("cannot parse %q", raw)
			}
			return daysOf(t)
		}
	case srcTimestamp, srcDate:
		return func(i int) (arrow.Date32, string) { return daysOf(sv.t(i)) }
	}
	return nil
}

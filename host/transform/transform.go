// Package transform implements ADF's built-in record-batch transforms
// (select, rename, cast and filter) that a flow applies, in order, to every
// Arrow record batch on its way from a source to a sink.
//
// A transform is built once from its JSON configuration with [New] and is
// then applied to many batches, possibly from several goroutines at once.
// Problems with individual rows (a value that cannot be cast, a filter
// expression that fails for a row) do not fail the batch: the row is removed
// from the output and reported as a [RowError], so the caller can write it to
// a dead-letter file.
//
// Memory for output batches is taken from the allocator carried by the
// context passed to Apply (see exec.WithAllocator in
// github.com/apache/arrow-go/v18/arrow/compute/exec); without one,
// memory.DefaultAllocator is used.
package transform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/invopop/jsonschema"
)

// RowError describes one input row that a transform rejected. A rejected
// row is removed from the transform's output; the batch itself succeeds.
type RowError struct {
	// Row is the index of the row in the input batch of the transform that
	// rejected it.
	Row int
	// Record is the rejected row as a JSON object (column -> value), in
	// schema column order, suitable for a dead-letter file.
	Record string
	// Reason says what went wrong, naming the column and value, e.g.
	// `cast column "amount" to float64: cannot parse "abc"`.
	Reason string
}

// Error implements the error interface so a RowError can be logged or
// wrapped like any other error.
func (e RowError) Error() string {
	return fmt.Sprintf("row %d: %s", e.Row, e.Reason)
}

// Transform is one built-in transform. Implementations are safe for
// concurrent use by several goroutines.
type Transform interface {
	// Apply returns the transformed batch (the caller releases it; it may
	// have zero rows) and the rows it rejected. The input is not released
	// by Apply. A non-nil error means the whole batch failed (for example a
	// referenced column does not exist); the returned record is then nil.
	Apply(ctx context.Context, rec arrow.Record) (arrow.Record, []RowError, error)
}

// InputColumns returns the only input columns t reads, when it says (a
// select: its columns), else nil. The engine passes them to the source as a
// projection hint, so a columnar reader reads no other columns.
func InputColumns(t Transform) []string {
	if c, ok := t.(interface{ inputColumns() []string }); ok {
		return c.inputColumns()
	}
	return nil
}

// ConfigError reports an invalid transform configuration. Path is the
// dotted path of the offending field inside the config object (e.g.
// "columns.total" or "columns[2]"; empty for the config as a whole), so a
// caller can prefix it with the transform's own location, as in
// `transforms[1].config.columns.total: unknown type "flot64"`.
type ConfigError struct {
	// Path is the field path inside the config object; empty means the
	// config as a whole.
	Path string
	// Reason says what is wrong with the field.
	Reason string

	err error // underlying cause, if any
}

// Error returns "path: reason", or just the reason when Path is empty.
func (e *ConfigError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Unwrap returns the underlying cause (for example an expression compile
// error), if any.
func (e *ConfigError) Unwrap() error { return e.err }

func configErr(path, format string, args ...any) *ConfigError {
	return &ConfigError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// kind describes one built-in transform type.
type kind struct {
	description string
	// newConfig returns a pointer to a zero config struct.
	newConfig func() any
	// build validates the decoded config and builds the transform.
	build func(cfg any) (Transform, error)
}

var kinds = map[string]kind{
	"select": {
		description: "Keep only the listed columns, in the listed order.",
		newConfig:   func() any { return new(selectConfig) },
		build:       func(cfg any) (Transform, error) { return newSelect(cfg.(*selectConfig)) },
	},
	"rename": {
		description: "Rename columns (old name -> new name); other columns are kept unchanged.",
		newConfig:   func() any { return new(renameConfig) },
		build:       func(cfg any) (Transform, error) { return newRename(cfg.(*renameConfig)) },
	},
	"cast": {
		description: "Convert columns to another type (int64, float64, bool, string, timestamp, date); " +
			"rows whose value cannot be converted are rejected.",
		newConfig: func() any { return new(castConfig) },
		build:     func(cfg any) (Transform, error) { return newCast(cfg.(*castConfig)) },
	},
	"filter": {
		description: "Keep rows for which a boolean expr-lang expression over the columns is true; " +
			"rows where it fails are rejected.",
		newConfig: func() any { return new(filterConfig) },
		build:     func(cfg any) (Transform, error) { return newFilter(cfg.(*filterConfig)) },
	},
}

// Types lists the built-in transform types, sorted.
func Types() []string {
	out := make([]string, 0, len(kinds))
	for t := range kinds {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

var (
	schemaOnce sync.Once
	schemas    map[string][]byte
	schemaErr  error
)

func buildSchemas() {
	schemas = make(map[string][]byte, len(kinds))
	r := &jsonschema.Reflector{
		RequiredFromJSONSchemaTags: true,
		DoNotReference:             true,
		ExpandedStruct:             true,
		AllowAdditionalProperties:  false,
	}
	for name, k := range kinds {
		s := r.Reflect(k.newConfig())
		s.Description = k.description
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			schemaErr = fmt.Errorf("transform: generate JSON schema for %q: %w", name, err)
			return
		}
		schemas[name] = bytes.TrimSpace(buf.Bytes())
	}
}

// Describe returns the description and the JSON Schema (JSON bytes,
// generated from the config struct, with required fields marked and
// additionalProperties false) of a built-in transform type; ok is false if
// typ is unknown.
func Describe(typ string) (description string, schema []byte, ok bool) {
	k, ok := kinds[typ]
	if !ok {
		return "", nil, false
	}
	schemaOnce.Do(buildSchemas)
	if schemaErr != nil {
		// Cannot happen for the static config structs; keep the signature
		// simple and report an empty schema rather than panic.
		return k.description, nil, true
	}
	return k.description, bytes.Clone(schemas[typ]), true
}

// New validates config (a JSON object) and builds a transform of type typ.
// Unknown keys, missing required keys, an invalid filter expression or an
// unknown cast type are reported as *ConfigError. Column existence is only
// checked when the transform is applied.
func New(typ string, config []byte) (Transform, error) {
	k, ok := kinds[typ]
	if !ok {
		return nil, fmt.Errorf("unknown transform type %q (known types: %s)", typ, strings.Join(Types(), ", "))
	}
	cfg := k.newConfig()
	if err := decodeConfig(config, cfg); err != nil {
		return nil, err
	}
	return k.build(cfg)
}

// decodeConfig strictly decodes a JSON object into the struct pointed to by
// dst: unknown keys and missing required keys (those tagged
// `jsonschema:"required"`) are *ConfigError.
func decodeConfig(raw []byte, dst any) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		trimmed = []byte("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return &ConfigError{Reason: "config must be a JSON object: " + err.Error(), err: err}
	}

	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	known := make(map[string]int, t.NumField())
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		known[name] = i
		for _, opt := range strings.Split(f.Tag.Get("jsonschema"), ",") {
			if opt == "required" {
				required = append(required, name)
			}
		}
	}

	keys := make([]string, 0, len(obj))
	for key := range obj {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if _, ok := known[key]; !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			return configErr(key, "unknown field (allowed: %s)", strings.Join(names, ", "))
		}
	}
	for _, name := range required {
		if _, ok := obj[name]; !ok {
			return configErr(name, "required field is missing")
		}
	}
	for _, key := range keys {
		if err := decodeValue(obj[key], v.Field(known[key]), key); err != nil {
			return err
		}
	}
	return nil
}

// decodeValue decodes raw into v, descending into maps (path "a.key") and
// slices (path "a[i]") so that type errors name the exact element.
func decodeValue(raw json.RawMessage, v reflect.Value, path string) error {
	typeErr := func(err error) error {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &ConfigError{Path: path, Reason: fmt.Sprintf("expected %s, got JSON %s", jsonTypeName(te.Type), te.Value), err: err}
		}
		return &ConfigError{Path: path, Reason: err.Error(), err: err}
	}
	isNull := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	switch {
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String && !isNull:
		var elems map[string]json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				te.Type = v.Type()
			}
			return typeErr(err)
		}
		keys := make([]string, 0, len(elems))
		for k := range elems {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := reflect.MakeMapWithSize(v.Type(), len(elems))
		for _, k := range keys {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := decodeValue(elems[k], ev, path+"."+k); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
		return nil
	case v.Kind() == reflect.Slice && !isNull:
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				te.Type = v.Type()
			}
			return typeErr(err)
		}
		s := reflect.MakeSlice(v.Type(), len(elems), len(elems))
		for i, e := range elems {
			if err := decodeValue(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
		return typeErr(err)
	}
	return nil
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array of " + jsonTypeName(t.Elem()) + "s"
	case reflect.Map:
		return "an object of " + jsonTypeName(t.Elem()) + "s"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	default:
		return t.String()
	}
}

// availableColumns formats the schema's column names for error messages.
func availableColumns(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = fmt.Sprintf("%q", f.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// columnIndex returns the index of the first column called name.
func columnIndex(s *arrow.Schema, name string) (int, bool) {
	idx := s.FieldIndices(name)
	if len(idx) == 0 {
		return 0, false
	}
	return idx[0], true
}

// errMissingColumn is wrapped by Apply errors about a column that is not in
// the batch.
var errMissingColumn = errors.New("column not found")

func missingColumn(transform, name string, s *arrow.Schema) error {
	return fmt.Errorf("%s: %w: %q (available columns: %s)", transform, errMissingColumn, name, availableColumns(s))
}

func schemaMetadata(s *arrow.Schema) *arrow.Metadata {
	if s.Metadata().Len() == 0 {
		return nil
	}
	md := s.Metadata()
	return &md
}

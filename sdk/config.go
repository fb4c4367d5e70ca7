package sdk

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Defaulter is implemented by config structs that have defaults: the SDK
// calls Defaults on a zero value before decoding the user's config onto it.
type Defaulter interface {
	Defaults()
}

// Validator is implemented by config structs with checks beyond the JSON
// Schema (cross-field rules, parseable expressions). Return ConfigError or
// ConfigErrors so the user sees the field path.
type Validator interface {
	Validate() error
}

// Checker is implemented by config structs that can check, cheaply and
// without side effects, whether the things they name are there: a path
// exists, a URL parses, a host name resolves. `adf validate` and the flows
// API show what Check returns as warnings, not errors: the file may appear
// and the host come up before the flow runs. Check should return quickly
// (well under a second); ctx carries the deadline.
type Checker interface {
	Check(ctx context.Context) []*Error
}

// HostCheckTimeout bounds how long CheckHost waits for a name to resolve.
const HostCheckTimeout = 2 * time.Second

// CheckHost is a helper for Checkers: nil when host (a name, or an IP
// address) resolves within HostCheckTimeout (or ctx's deadline, if sooner),
// otherwise a warning for field: CodeNotFound when the name does not exist,
// CodeUnavailable when the lookup failed or took too long.
func CheckHost(ctx context.Context, field, host string) *Error {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if h == "" || net.ParseIP(h) != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, HostCheckTimeout)
	defer cancel()
	_, err := net.DefaultResolver.LookupHost(ctx, h)
	if err == nil {
		return nil
	}
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return &Error{Code: CodeNotFound, Field: field, Err: err, Summary: fmt.Sprintf("host %q not found in DNS", h),
			Detail: "check the host name; the flow cannot connect until it resolves where the flow runs"}
	case ctx.Err() != nil || errors.As(err, &dns) && dns.IsTimeout:
		return &Error{Code: CodeUnavailable, Field: field, Err: err, Summary: fmt.Sprintf("host %q did not resolve within %s", h, HostCheckTimeout),
			Detail: "the DNS server is slow or unreachable from here"}
	}
	return &Error{Code: CodeUnavailable, Field: field, Err: err, Summary: fmt.Sprintf("cannot resolve host %q: %v", h, err)}
}

// configSpec derives a component's JSON Schema from its Go config struct and
// decodes flow configs into it.
type configSpec struct {
	schemaJSON []byte
	schema     *validator.Schema
	newValue   func() any
}

// newConfigSpec builds the spec of config type C. Struct fields use `json` tags
// for names, `jsonschema` tags (invopop/jsonschema) for required, default,
// enum and description, and `adf` tags for the secret, path and connect
// annotations the host enforces (see SchemaSecret).
func newConfigSpec[C any]() (*configSpec, error) {
	r := &jsonschema.Reflector{
		DoNotReference:             true,
		ExpandedStruct:             true,
		RequiredFromJSONSchemaTags: true,
		Anonymous:                  true,
	}
	var zero C
	s := r.Reflect(&zero)
	s.Version = "https://json-schema.org/draft/2020-12/schema"
	s.ID = ""
	if err := annotate(s, reflect.TypeFor[C](), 0); err != nil {
		return nil, fmt.Errorf("config schema of %T: %w", zero, err)
	}
	documentSchema[C](s)
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("config schema of %T: %w", zero, err)
	}
	doc, err := validator.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("config schema of %T: %w", zero, err)
	}
	c := validator.NewCompiler()
	if err := c.AddResource("config.json", doc); err != nil {
		return nil, fmt.Errorf("config schema of %T: %w", zero, err)
	}
	compiled, err := c.Compile("config.json")
	if err != nil {
		return nil, fmt.Errorf("config schema of %T: %w", zero, err)
	}
	return &configSpec{
		schemaJSON: raw,
		schema:     compiled,
		newValue:   func() any { return new(C) },
	}, nil
}

// decode validates raw (a JSON object; empty means {}) and returns a *C.
// All problems found are returned together as ConfigErrors, sorted by
// field path: syntax (one JSON value, no key twice), unknown keys (with the
// allowed ones), types and values that do not decode (a bad duration), the
// schema's rules (required, enum, bounds) and then the config's Validate.
func (s *configSpec) decode(raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = []byte("{}")
	}
	if err := CheckJSON(raw); err != nil {
		return nil, err
	}
	v := s.newValue()
	if d, ok := v.(Defaulter); ok {
		d.Defaults()
	}
	var errs ConfigErrors
	if err := DecodeStrict(raw, v); err != nil {
		errs = append(errs, AsErrors(err)...)
	}
	inst, err := validator.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, ConfigErrors{ConfigError("", "config is not valid JSON: %v", err)}
	}
	if err := s.schema.Validate(inst); err != nil {
		var ve *validator.ValidationError
		if !errors.As(err, &ve) {
			return nil, ConfigErrors{ConfigError("", "%v", err)}
		}
		// The decoder's message wins where both found a problem: it says
		// what was expected in words ("must be an integer (got ...)").
		seen := map[string]bool{}
		for _, e := range errs {
			seen[e.Field] = true
		}
		for _, e := range schemaErrors(ve) {
			if !seen[e.Field] {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
		return nil, errs
	}
	if val, ok := v.(Validator); ok {
		if err := val.Validate(); err != nil {
			return nil, ConfigErrors(AsErrors(err))
		}
	}
	return v, nil
}

// schemaErrors turns a validation error tree into one ConfigError per leaf,
// sorted by field path.
func schemaErrors(ve *validator.ValidationError) ConfigErrors {
	var out ConfigErrors
	var walk func(e *validator.ValidationError)
	walk = func(e *validator.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, leafErrors(e)...)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func leafErrors(e *validator.ValidationError) []*Error {
	path := fieldPath(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		out := make([]*Error, 0, len(k.Missing))
		for _, m := range k.Missing {
			out = append(out, ConfigError(join(path, m), "required field is missing"))
		}
		return out
	case *kind.AdditionalProperties:
		// DecodeStrict reports these, with the allowed keys.
		return nil
	case *kind.Pattern:
		if k.Want == durationPattern {
			return []*Error{ConfigError(path, "bad duration %q: %s", k.Got, durationHint)}
		}
	}
	return []*Error{ConfigError(path, "%s", e.ErrorKind.LocalizedString(message.NewPrinter(language.English)))}
}

// fieldPath renders a JSON location the way users write it: a.b[2].c.
func fieldPath(loc []string) string {
	var b strings.Builder
	for _, seg := range loc {
		if _, err := strconv.Atoi(seg); err == nil {
			b.WriteString("[" + seg + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// Duration is a config field written as a string such as "30s", "5m", "1h".
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string such as \"30s\", \"5m\", \"1h\" (got %s)", describeJSON(b))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q: %s", s, durationHint)
	}
	*d = Duration(v)
	return nil
}

// durationPattern is the JSON Schema pattern of a Duration.
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

// durationHint says how to write a duration.
const durationHint = `use a string such as "30s", "5m", "1h"`

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// JSONSchema describes a Duration in a component's config schema.
func (Duration) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type:        "string",
		Pattern:     durationPattern,
		Description: `a duration such as "30s", "5m", "1h"`,
	}
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DecodeStrict decodes the JSON value raw onto the value v points to, the
// way encoding/json does with DisallowUnknownFields, but it reports every
// problem instead of the first, each with its field path ("a.b[2].c"), as
// ConfigErrors: a key v's type does not have (UnknownField: the allowed keys
// and a suggestion), a value of the wrong JSON type ("must be an integer
// (got the string "two")"), a value its type's UnmarshalJSON refuses (a bad
// Duration). Keys match json tags exactly (encoding/json also accepts other
// cases). Values that decode are set even when others do not.
func DecodeStrict(raw []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &Error{Code: CodeInternal, Summary: fmt.Sprintf("DecodeStrict needs a non-nil pointer, got %T", v)}
	}
	d := &strictDecoder{}
	d.value(bytes.TrimSpace(raw), rv.Elem(), "")
	if len(d.errs) > 0 {
		return d.errs
	}
	return nil
}

type strictDecoder struct{ errs ConfigErrors }

func (d *strictDecoder) fail(path string, err error) {
	var e *Error
	if errors.As(err, &e) && e.Code == CodeInvalidConfig {
		c := *e
		c.Field = joinPath(path, e.Field)
		d.errs = append(d.errs, &c)
		return
	}
	d.errs = append(d.errs, &Error{Code: CodeInvalidConfig, Field: path, Summary: cleanJSONError(err), Err: err})
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *strictDecoder) value(raw []byte, v reflect.Value, path string) {
	t := v.Type()
	if t.Kind() != reflect.Pointer && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		d.leaf(raw, v, path)
		return
	}
	null := string(raw) == "null"
	switch t.Kind() {
	case reflect.Pointer:
		if null {
			v.SetZero()
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(raw, v.Elem(), path)
	case reflect.Struct:
		if null {
			return
		}
		d.object(raw, v, path)
	case reflect.Map:
		if null {
			v.SetZero()
			return
		}
		if t.Key().Kind() != reflect.String || t.Key().Implements(textUnmarshaler) {
			d.leaf(raw, v, path)
			return
		}
		members, ok := d.members(raw, t, path)
		if !ok {
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(members)))
		}
		for _, m := range members {
			elem := reflect.New(t.Elem()).Elem()
			d.value(m.raw, elem, joinPath(path, m.key))
			v.SetMapIndex(reflect.ValueOf(m.key).Convert(t.Key()), elem)
		}
	case reflect.Slice:
		if null {
			v.SetZero()
			return
		}
		if t.Elem().Kind() == reflect.Uint8 {
			d.leaf(raw, v, path) // base64, as encoding/json does
			return
		}
		elems, ok := d.elements(raw, t, path)
		if !ok {
			return
		}
		s := reflect.MakeSlice(t, len(elems), len(elems))
		for i, e := range elems {
			d.value(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		d.leaf(raw, v, path)
	}
}

// leaf decodes raw with encoding/json, turning its error into a message.
func (d *strictDecoder) leaf(raw []byte, v reflect.Value, path string) {
	err := json.Unmarshal(raw, v.Addr().Interface())
	if err == nil {
		return
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		d.errs = append(d.errs, &Error{Code: CodeInvalidConfig, Field: path, Err: err,
			Summary: fmt.Sprintf("must be %s (got %s)", goTypeName(v.Type()), describeJSON(raw))})
		return
	}
	d.fail(path, err)
}

// goTypeName names a Go type the way a config's author thinks of it.
func goTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer of 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return "a base64 string"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

type member struct {
	key string
	raw []byte
}

// members splits a JSON object into its members, in document order.
func (d *strictDecoder) members(raw []byte, t reflect.Type, path string) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		d.errs = append(d.errs, ConfigError(path, "must be %s (got %s)", goTypeName(t), describeJSON(raw)))
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			d.fail(path, err)
			return nil, false
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			d.fail(joinPath(path, key), err)
			return nil, false
		}
		out = append(out, member{key, bytes.TrimSpace(val)})
	}
	return out, true
}

// elements splits a JSON array into its elements.
func (d *strictDecoder) elements(raw []byte, t reflect.Type, path string) ([][]byte, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		d.errs = append(d.errs, ConfigError(path, "must be %s (got %s)", goTypeName(t), describeJSON(raw)))
		return nil, false
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		d.fail(path, err)
		return nil, false
	}
	out := make([][]byte, len(elems))
	for i, e := range elems {
		out[i] = bytes.TrimSpace(e)
	}
	return out, true
}

func (d *strictDecoder) object(raw []byte, v reflect.Value, path string) {
	members, ok := d.members(raw, v.Type(), path)
	if !ok {
		return
	}
	fields := jsonFields(v.Type())
	for _, m := range members {
		idx, ok := fields[m.key]
		if !ok {
			names := make([]string, 0, len(fields))
			for n := range fields {
				names = append(names, n)
			}
			d.errs = append(d.errs, UnknownField(path, m.key, names))
			continue
		}
		f, ok := fieldByIndex(v, idx)
		if !ok {
			continue
		}
		d.value(m.raw, f, joinPath(path, m.key))
	}
}

// jsonFields maps the JSON names of a struct's fields, including those
// promoted from embedded structs (the shallower wins, as in encoding/json),
// to their index paths.
func jsonFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	type level struct {
		t     reflect.Type
		index []int
	}
	current := []level{{t, nil}}
	for depth := 0; len(current) > 0 && depth < 16; depth++ {
		var next []level
		names := map[string][]int{}
		for _, l := range current {
			for i := 0; i < l.t.NumField(); i++ {
				f := l.t.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				index := append(append([]int(nil), l.index...), i)
				if f.Anonymous && name == "" {
					ft := f.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if ft.Kind() == reflect.Struct {
						next = append(next, level{ft, index})
						continue
					}
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if _, ok := out[name]; !ok {
					if _, dup := names[name]; !dup {
						names[name] = index
					}
				}
			}
		}
		for n, idx := range names {
			out[n] = idx
		}
		current = next
	}
	return out
}

// fieldByIndex is v.FieldByIndex allocating nil embedded pointers.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

func joinPath(path, field string) string {
	switch {
	case field == "":
		return path
	case path == "":
		return field
	case strings.HasPrefix(field, "["):
		return path + field
	}
	return path + "." + field
}

func cleanJSONError(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

// CheckJSON checks that data is exactly one JSON value in which no object
// has a key twice. It reports the first syntax error or trailing content
// with its line and column, and every repeated key with its field path and
// both places, as ConfigErrors.
func CheckJSON(data []byte) error {
	c := &jsonChecker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	c.dec.UseNumber()
	if err := c.value(""); err != nil {
		return ConfigErrors{err}
	}
	off := c.dec.InputOffset()
	if _, err := c.dec.Token(); err != io.EOF {
		for off < int64(len(data)) && isJSONSpace(data[off]) {
			off++
		}
		return ConfigErrors{ConfigError("", "unexpected content after the JSON value at %s: a document is one JSON object", c.position(off))}
	}
	if len(c.errs) > 0 {
		return c.errs
	}
	return nil
}

type jsonChecker struct {
	data  []byte
	dec   *json.Decoder
	depth int
	errs  ConfigErrors
}

func isJSONSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// position renders a byte offset as "line L, column C" (both from 1).
func (c *jsonChecker) position(off int64) string {
	off = min(off, int64(len(c.data)))
	line := 1 + bytes.Count(c.data[:off], []byte("\n"))
	col := int(off) - (bytes.LastIndexByte(c.data[:off], '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d", line, col)
}

func (c *jsonChecker) syntax(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{Code: CodeInvalidConfig, Summary: fmt.Sprintf("not valid JSON at %s: %s", c.position(se.Offset), se.Error()), Err: err}
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Code: CodeInvalidConfig, Summary: "not valid JSON: the document ends too early", Err: err}
	}
	return &Error{Code: CodeInvalidConfig, Summary: "not valid JSON: " + cleanJSONError(err), Err: err}
}

// value reads one value; it returns a syntax error, and collects repeated
// keys.
func (c *jsonChecker) value(path string) *Error {
	tok, err := c.dec.Token()
	if err != nil {
		return c.syntax(err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > 1000 {
		return &Error{Code: CodeInvalidConfig, Summary: "not valid: nested more than 1000 levels deep"}
	}
	switch delim {
	case '{':
		seen := map[string]int64{}
		for c.dec.More() {
			before := c.dec.InputOffset()
			tok, err := c.dec.Token()
			if err != nil {
				return c.syntax(err)
			}
			key, _ := tok.(string)
			at := before + int64(bytes.IndexByte(c.data[before:c.dec.InputOffset()], '"'))
			if first, dup := seen[key]; dup {
				c.errs = append(c.errs, ConfigError(joinPath(path, key), "key given twice (at %s and at %s): remove one", c.position(first), c.position(at)))
			} else {
				seen[key] = at
			}
			if err := c.value(joinPath(path, key)); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; c.dec.More(); i++ {
			if err := c.value(fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	if _, err := c.dec.Token(); err != nil { // the closing delimiter
		return c.syntax(err)
	}
	return nil
}

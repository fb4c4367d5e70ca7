package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// configSpec derives a component's JSON Schema from its Go config struct and
// decodes flow configs into it.
type configSpec struct {
	schemaJSON []byte
	schema     *validator.Schema
	newValue   func() any
}

// newConfigSpec builds the spec of config type C. Struct fields use `json` tags
// for names and `jsonschema` tags (invopop/jsonschema) for required, default,
// enum and description.
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
// All problems found are returned together as ConfigErrors.
func (s *configSpec) decode(raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = []byte("{}")
	}
	inst, err := validator.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, ConfigErrors{ConfigError("", "config is not valid JSON: %v", err)}
	}
	if err := s.schema.Validate(inst); err != nil {
		var ve *validator.ValidationError
		if errors.As(err, &ve) {
			return nil, schemaErrors(ve)
		}
		return nil, ConfigErrors{ConfigError("", "%v", err)}
	}
	v := s.newValue()
	if d, ok := v.(Defaulter); ok {
		d.Defaults()
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, ConfigErrors{ConfigError(jsonErrorField(err), "%v", err)}
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
		out := make([]*Error, 0, len(k.Properties))
		for _, p := range k.Properties {
			out = append(out, ConfigError(join(path, p), "unknown field"))
		}
		return out
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

func jsonErrorField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

// Duration is a config field written as a string such as "30s", "5m", "1h".
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\", \"5m\", \"1h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q: use a string such as \"30s\", \"5m\", \"1h\"", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// JSONSchema describes a Duration in a component's config schema.
func (Duration) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type:        "string",
		Pattern:     `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`,
		Description: `a duration such as "30s", "5m", "1h"`,
	}
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

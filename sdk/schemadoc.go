package sdk

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"
)

// documentSchema completes the reflected schema s of config type C for the
// people who read it (adf plugins describe, the console): whole
// descriptions, and the defaults that C's Defaults method sets.
func documentSchema[C any](s *jsonschema.Schema) {
	fullDescriptions(s, reflect.TypeFor[C](), 0)
	v := new(C)
	if d, ok := any(v).(Defaulter); ok {
		d.Defaults()
		schemaDefaults(s, v)
	}
}

// schemaDefaults states as "default" of each top-level property the value
// the defaulted config v has for it, unless the schema states one already,
// the value is JSON's zero (false, 0, "", empty) or the property is a
// secret (a default credential is not shown anywhere).
func schemaDefaults(s *jsonschema.Schema, v any) {
	raw, err := json.Marshal(v)
	if err != nil || s.Properties == nil {
		return
	}
	var values map[string]json.RawMessage
	if json.Unmarshal(raw, &values) != nil {
		return
	}
	for name, val := range values {
		prop, ok := s.Properties.Get(name)
		if !ok || prop == nil || prop.Default != nil || prop.Extras[SchemaSecret] == true {
			continue
		}
		switch string(val) {
		case "null", "false", "0", `""`, "[]", "{}":
			continue
		}
		var d any
		if json.Unmarshal(val, &d) == nil {
			prop.Default = d
		}
	}
}

// fullDescriptions puts the whole `description=` of every field's
// `jsonschema` tag into the reflected schema s (recursively). The
// reflector splits the tag at every comma not escaped as `\,`, and keeps of
// a description only the part before its first plain comma ("a file, a
// directory or a glob" became "a file"); the rest was taken for further
// keywords and dropped. Here a description runs on to the next part that
// is a keyword the reflector knows (default=, enum=, required, ...), so
// descriptions may be written with plain commas.
func fullDescriptions(s *jsonschema.Schema, t reflect.Type, depth int) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s == nil || depth > 16 {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if s.Properties == nil {
			return
		}
		for name, index := range jsonFields(t) {
			f := t.FieldByIndex(index)
			prop, ok := s.Properties.Get(name)
			if !ok || prop == nil {
				continue
			}
			if d, ok := tagDescription(f.Tag.Get("jsonschema")); ok {
				prop.Description = d
			}
			fullDescriptions(prop, f.Type, depth+1)
		}
	case reflect.Slice, reflect.Array:
		fullDescriptions(s.Items, t.Elem(), depth+1)
	case reflect.Map:
		fullDescriptions(s.AdditionalProperties, t.Elem(), depth+1)
	}
}

// schemaKeywords are the keywords of the reflector's `jsonschema` tag.
var schemaKeywords = map[string]bool{
	"title": true, "description": true, "type": true, "anchor": true, "required": true, "nullable": true,
	"oneof_required": true, "anyof_required": true, "oneof_ref": true, "oneof_type": true, "anyof_ref": true, "anyof_type": true,
	"minLength": true, "maxLength": true, "pattern": true, "format": true, "readOnly": true, "writeOnly": true,
	"default": true, "example": true, "enum": true, "const": true, "multipleOf": true, "minimum": true, "maximum": true,
	"exclusiveMaximum": true, "exclusiveMinimum": true, "dependencies": true, "patternProperties": true,
	"minItems": true, "maxItems": true, "uniqueItems": true, "minProperties": true, "maxProperties": true,
}

// tagDescription is the description in a `jsonschema` tag, with its plain
// commas; false when the tag has none.
func tagDescription(tag string) (string, bool) {
	parts := splitUnescapedCommas(tag)
	for i, p := range parts {
		d, ok := strings.CutPrefix(p, "description=")
		if !ok {
			continue
		}
		for _, next := range parts[i+1:] {
			name, _, _ := strings.Cut(next, "=")
			if schemaKeywords[name] {
				break
			}
			d += "," + next
		}
		return d, true
	}
	return "", false
}

// splitUnescapedCommas splits a tag as the reflector does: at commas not
// preceded by a backslash, which is dropped from an escaped one.
func splitUnescapedCommas(tag string) []string {
	var out []string
	for _, part := range strings.Split(tag, ",") {
		if n := len(out); n > 0 && strings.HasSuffix(out[n-1], `\`) {
			out[n-1] = strings.TrimSuffix(out[n-1], `\`) + "," + part
			continue
		}
		out = append(out, part)
	}
	return out
}

package sdk

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/invopop/jsonschema"
)

// Config field annotations. A config struct field is annotated with the
// `adf` struct tag, a comma-separated list of:
//
//   - secret: the value is a credential (a password, a token, a key) or a
//     URL or connection string whose userinfo or query may carry one. The
//     host never shows it: configs returned by the API have it replaced by
//     xxxxx (in a URL or a keyword connection string only the password,
//     token and similar parts are), and the secret parts are scrubbed from
//     the errors and logs of the flow's runs.
//   - path: a local file path the component reads or writes (a file, a
//     directory or a glob; a file:// URL counts too, other URL schemes such
//     as s3:// are not local and are not checked). The host refuses a flow
//     whose paths lie outside its file roots (ADF_FILE_ROOTS).
//   - connect: a network address the component connects to: a URL
//     (postgres://, redis://, http(s)://...) or a PostgreSQL keyword string
//     (host=... port=...). When the host has an allow-list of destinations
//     (ADF_CONNECT_ALLOW), every host it names must be allowed. A URL
//     naming a local file instead (file://, sqlite://) is checked against
//     the file roots like a path.
//   - secret_keys=k1|k2|...: on a map field (map[string]string), the values
//     of these keys (compared case-insensitively; a key ending in * is a
//     prefix: adls.sas-token.*) are secrets.
//
// For example:
//
//	URL   string            `json:"url" adf:"connect,secret"`
//	Path  string            `json:"path" adf:"path"`
//	Props map[string]string `json:"properties" adf:"secret_keys=token|credential"`
//
// The SDK publishes the annotations in the component's config JSON Schema as
// the extension keywords SchemaSecret, SchemaPath, SchemaConnect and
// SchemaSecretKeys, on the field's property; the host reads them from the
// plugin manifest (see AnnotatedFields). Annotate a field of a slice of
// strings to annotate every element.
const (
	// SchemaSecret (true) marks a secret field.
	SchemaSecret = "x-adf-secret"
	// SchemaPath (true) marks a local file path field.
	SchemaPath = "x-adf-path"
	// SchemaConnect (true) marks a network destination field.
	SchemaConnect = "x-adf-connect"
	// SchemaSecretKeys (a list of key names) marks the secret keys of a map
	// field.
	SchemaSecretKeys = "x-adf-secret-keys"
)

// annotate copies the `adf` tags of t's fields (recursively) into the
// reflected schema s as extension keywords.
func annotate(s *jsonschema.Schema, t reflect.Type, depth int) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s == nil || depth > 16 {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if s.Properties == nil {
			return nil
		}
		fields := jsonFields(t)
		names := make([]string, 0, len(fields))
		for n := range fields {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			f := t.FieldByIndex(fields[name])
			prop, ok := s.Properties.Get(name)
			if !ok || prop == nil {
				continue
			}
			if tag, ok := f.Tag.Lookup("adf"); ok {
				if err := applyTag(prop, f, tag); err != nil {
					return fmt.Errorf("field %s: %w", f.Name, err)
				}
			}
			if err := annotate(prop, f.Type, depth+1); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
	case reflect.Slice, reflect.Array:
		return annotate(s.Items, t.Elem(), depth+1)
	case reflect.Map:
		return annotate(s.AdditionalProperties, t.Elem(), depth+1)
	}
	return nil
}

// applyTag sets the extension keywords of one `adf` tag on prop (on its
// items, for a slice of strings).
func applyTag(prop *jsonschema.Schema, f reflect.StructField, tag string) error {
	target := prop
	ft := f.Type
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if (ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array) && ft.Elem().Kind() == reflect.String && prop.Items != nil {
		target = prop.Items
	}
	for _, item := range strings.Split(tag, ",") {
		item = strings.TrimSpace(item)
		name, value, hasValue := strings.Cut(item, "=")
		switch name {
		case "":
		case "secret", "path", "connect":
			if hasValue {
				return fmt.Errorf("adf tag %q: %s takes no value", tag, name)
			}
			setExtra(target, "x-adf-"+name, true)
		case "secret_keys":
			if ft.Kind() != reflect.Map {
				return fmt.Errorf("adf tag %q: secret_keys applies to map fields only", tag)
			}
			var keys []string
			for _, k := range strings.Split(value, "|") {
				if k = strings.TrimSpace(k); k != "" {
					keys = append(keys, k)
				}
			}
			if len(keys) == 0 {
				return fmt.Errorf("adf tag %q: secret_keys needs key names, such as secret_keys=token|credential", tag)
			}
			setExtra(prop, SchemaSecretKeys, keys)
		default:
			return fmt.Errorf("adf tag %q: unknown annotation %q (use secret, path, connect or secret_keys=a|b)", tag, name)
		}
	}
	return nil
}

func setExtra(s *jsonschema.Schema, k string, v any) {
	if s.Extras == nil {
		s.Extras = map[string]any{}
	}
	s.Extras[k] = v
}

// AnnotatedField is one value of a config whose schema annotates it (see
// SchemaSecret, SchemaPath, SchemaConnect and SchemaSecretKeys).
type AnnotatedField struct {
	// Field is the value's path in the config ("url", "paths[2]",
	// "catalog_properties.token").
	Field string
	// Value is the string value.
	Value string
	// Secret, Path and Connect are the value's annotations.
	Secret, Path, Connect bool
}

// AnnotatedFields returns the string values of config (a JSON object) that
// schema (a component's config JSON Schema, as published in its manifest)
// annotates, in document order of the schema walk (sorted by field). A
// secret annotation on an object or list covers every string inside it. An
// empty or unparsable schema or config yields nothing.
func AnnotatedFields(schema, config []byte) []AnnotatedField {
	s, v, ok := decodeAnnotated(schema, config)
	if !ok {
		return nil
	}
	var out []AnnotatedField
	walkAnnotated(s, v, "", false, func(f AnnotatedField) (string, bool) {
		out = append(out, f)
		return "", false
	}, 0)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// RewriteAnnotated returns config with the annotated string values that
// replace changes (it returns the new value and true) replaced, for a host
// that adapts a config before shipping it elsewhere (relative paths made
// absolute). config is returned unchanged when nothing changes or when the
// schema or config does not parse.
func RewriteAnnotated(schema, config []byte, replace func(AnnotatedField) (string, bool)) []byte {
	s, v, ok := decodeAnnotated(schema, config)
	if !ok {
		return config
	}
	changed := false
	v = walkAnnotated(s, v, "", false, func(f AnnotatedField) (string, bool) {
		nv, ok := replace(f)
		changed = changed || ok
		return nv, ok
	}, 0)
	if !changed {
		return config
	}
	out, err := json.Marshal(v)
	if err != nil {
		return config
	}
	return out
}

// decodeAnnotated decodes a schema and a config; ok is false when either is
// empty or does not parse.
func decodeAnnotated(schema, config []byte) (s map[string]any, v any, ok bool) {
	if len(schema) == 0 || len(config) == 0 {
		return nil, nil, false
	}
	if json.Unmarshal(schema, &s) != nil || json.Unmarshal(config, &v) != nil {
		return nil, nil, false
	}
	return s, v, true
}

func flag(s map[string]any, k string) bool {
	b, _ := s[k].(bool)
	return b
}

// walkAnnotated calls visit for every annotated string of v (a decoded
// JSON value) and returns v with the strings visit replaced.
func walkAnnotated(s map[string]any, v any, path string, secret bool, visit func(AnnotatedField) (string, bool), depth int) any {
	if depth > 64 {
		return v
	}
	secret = secret || flag(s, SchemaSecret)
	pathF, connect := flag(s, SchemaPath), flag(s, SchemaConnect)
	switch x := v.(type) {
	case string:
		if secret || pathF || connect {
			if nv, ok := visit(AnnotatedField{Field: path, Value: x, Secret: secret, Path: pathF, Connect: connect}); ok {
				return nv
			}
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for i, e := range x {
			x[i] = walkAnnotated(items, e, fmt.Sprintf("%s[%d]", path, i), secret, visit, depth+1)
		}
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		extra, _ := s["additionalProperties"].(map[string]any)
		var secretKeys []string
		if ks, ok := s[SchemaSecretKeys].([]any); ok {
			for _, k := range ks {
				if str, ok := k.(string); ok {
					secretKeys = append(secretKeys, str)
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, ok := props[k].(map[string]any)
			if !ok {
				sub = extra
			}
			keySecret := secret
			for _, sk := range secretKeys {
				if strings.EqualFold(sk, k) || strings.HasSuffix(sk, "*") && len(k) >= len(sk)-1 && strings.EqualFold(sk[:len(sk)-1], k[:len(sk)-1]) {
					keySecret = true
				}
			}
			x[k] = walkAnnotated(sub, x[k], joinPath(path, k), keySecret, visit, depth+1)
		}
	}
	return v
}

// Package redact is the host's one mechanism for keeping secrets out of
// what leaves it: API responses (flows, runs, their errors and
// backtraces), logs, run errors written to the store and errors the CLI
// prints.
//
// Two things are redacted:
//
//   - Values known to be secret: the values of config fields a plugin's
//     schema annotates as secret (sdk.SchemaSecret, sdk.SchemaSecretKeys),
//     and of config keys that look like one (password, secret, token,
//     api_key, credential). In configs they are replaced by Mask; a URL or
//     a keyword connection string keeps its shape and only its password,
//     token and similar parts become Mask. The values (or those parts) are
//     then also scrubbed from every string of the same flow's runs (Set),
//     and, once Remember was called, from every string of the process
//     (String).
//   - Credentials recognised by their form, in any string: the password of
//     a URL's userinfo (postgres://user:pass@host, redis://:pass@host),
//     password, token and similar query parameters (?password=, &token=),
//     password=... in keyword connection strings (host=db password=secret,
//     password='a b'), and "password": "..." members of JSON text.
package redact

import (
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// Mask replaces a secret.
const Mask = "xxxxx"

// MinSecretLength is the shortest value scrubbed as a known secret from
// free text: shorter ones would mask innocent words. Their form-based
// patterns (user:pass@) still apply.
const MinSecretLength = 4

var (
	// scheme://user:password@ — the password runs to the last @ before
	// the path, so an unescaped @ in it is covered too.
	userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)([^\s/:@'"]*):([^\s/'"]*)@`)
	// ?password=... &token=...
	queryRE = regexp.MustCompile(`(?i)([?&;](?:password|passwd|pwd|pass|sslpassword|token|access_token|auth_token|refresh_token|api_key|apikey|secret|client_secret|credential|credentials|sig|signature)=)([^&\s'"#\\]*)`)
	// password=secret, password = 'a b' in keyword connection strings.
	keywordRE = regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_?&.\-])((?:password|passwd|pwd|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"\\]+)`)
	// "password": "..." in JSON text.
	jsonRE = regexp.MustCompile(`(?i)("(?:password|passwd|secret|token|api_key|apikey|credential|credentials|client_secret|access_token)"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	// a keyword connection string starts with key=.
	keywordStartRE = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)
)

// patterns scrubs the credentials recognised by their form.
func patterns(s string) string {
	if s == "" {
		return s
	}
	if strings.Contains(s, "@") {
		s = userinfoRE.ReplaceAllString(s, "${1}${2}:"+Mask+"@")
	}
	if strings.Contains(s, "=") {
		s = queryRE.ReplaceAllString(s, "${1}"+Mask)
		s = keywordRE.ReplaceAllString(s, "${1}${2}"+Mask)
	}
	if strings.Contains(s, `"`) {
		s = jsonRE.ReplaceAllString(s, `${1}"`+Mask+`"`)
	}
	return s
}

// credentials returns the secret parts patterns would scrub from s.
func credentials(s string) []string {
	var out []string
	for _, m := range userinfoRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[3])
	}
	for _, m := range queryRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[2])
	}
	for _, m := range keywordRE.FindAllStringSubmatch(s, -1) {
		v := m[3]
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') {
			v = v[1 : len(v)-1]
		}
		out = append(out, v)
	}
	return out
}

// Set is a set of secret values, scrubbed by its String method. The zero
// value and nil are empty sets.
type Set struct {
	mu   sync.RWMutex
	vals map[string]bool
	// forms are the values and their escaped spellings, longest first.
	forms []string
}

// Add adds secret values; empty ones are ignored. Add is safe for
// concurrent use.
func (s *Set) Add(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, v := range vals {
		if v == "" || v == Mask || s.vals[v] {
			continue
		}
		if s.vals == nil {
			s.vals = map[string]bool{}
		}
		s.vals[v] = true
		changed = true
	}
	if !changed {
		return
	}
	seen := map[string]bool{}
	var forms []string
	for v := range s.vals {
		q := strconv.Quote(v)
		for _, f := range []string{v, url.QueryEscape(v), url.PathEscape(v), q[1 : len(q)-1]} {
			if len(f) >= MinSecretLength && !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	sort.Slice(forms, func(i, j int) bool {
		if len(forms[i]) != len(forms[j]) {
			return len(forms[i]) > len(forms[j])
		}
		return forms[i] < forms[j]
	})
	s.forms = forms
}

// Merge adds the values of o.
func (s *Set) Merge(o *Set) {
	if o == nil {
		return
	}
	s.Add(o.Values()...)
}

// Values lists the secret values, sorted.
func (s *Set) Values() []string {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.vals))
	for v := range s.vals {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// replace replaces the set's values in str.
func (s *Set) replace(str string) string {
	if s == nil || str == "" {
		return str
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range s.forms {
		if strings.Contains(str, f) {
			str = strings.ReplaceAll(str, f, Mask)
		}
	}
	return str
}

// String is str with the credentials recognised by their form, the values
// the process remembers (Remember) and the values of s replaced by Mask.
func (s *Set) String(str string) string { return s.replace(String(str)) }

// Error returns err with its message redacted by s (see String); Unwrap
// still reaches err, for classification by code. Nil stays nil.
func (s *Set) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := s.String(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// known are the secrets the process remembers.
var known Set

// Remember makes the process scrub the values of s from every string
// String redacts from now on (logs written through Writer, printed
// errors), for the life of the process.
func Remember(s *Set) { known.Merge(s) }

// String redacts str: the credentials recognised by their form and the
// secrets the process remembers are replaced by Mask.
func String(str string) string { return known.replace(patterns(str)) }

// Error returns err with its message redacted by String; Unwrap still
// reaches err. Nil stays nil.
func Error(err error) error { return (*Set)(nil).Error(err) }

// Writer returns a writer that redacts (String) what it writes to w, for
// logs: each Write is redacted as a whole (hclog writes a log line per
// Write).
func Writer(w io.Writer) io.Writer { return &writer{w} }

type writer struct{ w io.Writer }

func (w *writer) Write(p []byte) (int, error) {
	s := String(string(p))
	if _, err := io.WriteString(w.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Schemas returns the config JSON Schema of a component type, nil when
// unknown.
type Schemas func(kind sdk.Kind, typ string) []byte

// RegistrySchemas returns the schemas of the components installed in reg.
func RegistrySchemas(reg *registry.Registry) Schemas {
	if reg == nil {
		return nil
	}
	return func(kind sdk.Kind, typ string) []byte {
		e, err := reg.Lookup(kind, typ)
		if err != nil {
			return nil
		}
		return e.Schema
	}
}

var (
	schemasMu sync.RWMutex
	schemas   Schemas
)

// SetSchemas sets the schemas DefaultSchemas returns: the host sets those of
// its registry once it scanned the plugins.
func SetSchemas(s Schemas) {
	schemasMu.Lock()
	schemas = s
	schemasMu.Unlock()
}

// DefaultSchemas returns the schemas set by SetSchemas (nil before: configs
// are then redacted by key names and forms only).
func DefaultSchemas() Schemas {
	schemasMu.RLock()
	defer schemasMu.RUnlock()
	return schemas
}

// secretKeyWords are parts of config key names whose values are secrets
// even when no schema says so.
var secretKeyWords = []string{"password", "passwd", "secret", "token", "api_key", "apikey", "credential"}

func secretKey(k string) bool {
	lk := strings.ToLower(k)
	for _, w := range secretKeyWords {
		if strings.Contains(lk, w) {
			return true
		}
	}
	return false
}

// structured says whether a secret field's value is a URL or a keyword
// connection string, whose non-secret parts stay visible.
func structured(v string) bool {
	return strings.Contains(v, "://") || keywordStartRE.MatchString(v)
}

// maskSecret redacts the value of a secret field and adds what it hid to
// set.
func maskSecret(v string, set *Set) string {
	if v == "" {
		return v
	}
	if structured(v) {
		set.Add(credentials(v)...)
		// The form decides: a URL without a password stays as it is.
		return patterns(v)
	}
	set.Add(v)
	return Mask
}

// Config returns a copy of a component config (a JSON object) with its
// secrets replaced (see the package doc), and the secret values it hid.
// schema is the component's config schema (nil: key names and forms only).
// A config that is not JSON comes back redacted as text.
func Config(schema []byte, raw json.RawMessage) (json.RawMessage, *Set) {
	set := &Set{}
	if len(raw) == 0 {
		return raw, set
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return json.RawMessage(strconv.Quote(patterns(string(raw)))), set
	}
	secret := map[string]bool{}
	for _, f := range sdk.AnnotatedFields(schema, raw) {
		if f.Secret {
			secret[f.Field] = true
		}
	}
	v = redactValue(v, "", "", secret, set)
	out, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`), set
	}
	return out, set
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func redactValue(v any, path, key string, secret map[string]bool, set *Set) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = redactValue(e, joinPath(path, k), k, secret, set)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = redactValue(e, path+"["+strconv.Itoa(i)+"]", key, secret, set)
		}
		return x
	case string:
		if secret[path] || secretKey(key) {
			return maskSecret(x, set)
		}
		set.Add(credentials(x)...)
		return patterns(x)
	}
	return v
}

// JSON returns a copy of a JSON document redacted by key names and forms
// (no schema), as Config does.
func JSON(raw json.RawMessage) json.RawMessage {
	out, _ := Config(nil, raw)
	return out
}

// Flow returns a copy of f whose component configs are redacted (Config,
// with the schemas of their types) and the secret values they hold. f is
// not changed.
func Flow(f *flow.Flow, schemas Schemas) (*flow.Flow, *Set) {
	set := &Set{}
	if f == nil {
		return nil, set
	}
	c := *f
	comp := func(kind sdk.Kind, in flow.Component) flow.Component {
		var schema []byte
		if schemas != nil && in.Type != "" {
			schema = schemas(kind, in.Type)
		}
		out, s := Config(schema, in.Config)
		set.Merge(s)
		in.Config = out
		return in
	}
	c.Source = comp(sdk.KindSource, f.Source)
	c.Sink = comp(sdk.KindSink, f.Sink)
	if f.Transforms != nil {
		c.Transforms = make([]flow.Component, len(f.Transforms))
		for i, t := range f.Transforms {
			c.Transforms[i] = comp(sdk.KindTransform, t)
		}
	}
	if f.Runtime != nil {
		r := comp(sdk.KindRuntime, *f.Runtime)
		c.Runtime = &r
	}
	return &c, set
}

// FlowJSON redacts a flow document in JSON (a run's pinned config) like
// Flow; a document that is not a flow is redacted like JSON.
func FlowJSON(raw json.RawMessage, schemas Schemas) (json.RawMessage, *Set) {
	if len(raw) == 0 || string(raw) == "null" {
		return raw, &Set{}
	}
	var f flow.Flow
	if err := json.Unmarshal(raw, &f); err != nil {
		return Config(nil, raw)
	}
	red, set := Flow(&f, schemas)
	out, err := json.Marshal(red)
	if err != nil {
		return Config(nil, raw)
	}
	return out, set
}

// Secrets returns the secret values of f's configs (see Flow).
func Secrets(f *flow.Flow, schemas Schemas) *Set {
	_, s := Flow(f, schemas)
	return s
}

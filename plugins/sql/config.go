package sql

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/activedataflow/adf/sdk"
)

// Sink modes.
const (
	ModeAppend       = "append"
	ModeUpsert       = "upsert"
	ModeInsertIgnore = "insert_ignore"
)

// Source modes.
const (
	ModeFull        = "full"
	ModeIncremental = "incremental"
)

// SinkConfig configures the postgres sink.
type SinkConfig struct {
	URL            string       `json:"url" jsonschema:"required,description=PostgreSQL URL such as postgres://user:pass@host:5432/db (the password is never logged)" adf:"connect,secret"`
	Table          string       `json:"table,omitempty" jsonschema:"description=target table (optionally schema.table); or set model"`
	Model          string       `json:"model,omitempty" jsonschema:"description=Rails-style model name mapped to its table (Order or order -> orders; LineItem -> line_items)"`
	Schema         string       `json:"schema,omitempty" jsonschema:"description=PostgreSQL schema of the table (default: the search_path, usually public)"`
	Mode           string       `json:"mode,omitempty" jsonschema:"enum=append,enum=upsert,enum=insert_ignore,description=append (binary COPY), upsert (insert or update on key) or insert_ignore (skip rows whose key exists); default append"`
	Key            []string     `json:"key,omitempty" jsonschema:"description=key columns for upsert and insert_ignore (a primary key or unique constraint on them must exist)"`
	CreateTable    bool         `json:"create_table,omitempty" jsonschema:"description=create the table from the Arrow schema when it is missing (key columns become the primary key)"`
	PoolMaxConns   int          `json:"pool_max_conns,omitempty" jsonschema:"minimum=1,description=maximum connections in the pool (default 4)"`
	ConnectTimeout sdk.Duration `json:"connect_timeout,omitempty" jsonschema:"description=how long one attempt to connect may take (default 10s); the host retries an unreachable server until the flow's retry_deadline"`
	CopyRows       int          `json:"copy_rows,omitempty" jsonschema:"minimum=1,description=rows per COPY: small batches are grouped up to this many rows (default 50000)"`
}

// Defaults implements sdk.Defaulter.
func (c *SinkConfig) Defaults() {
	c.Mode = ModeAppend
	c.PoolMaxConns = 4
	c.ConnectTimeout = sdk.Duration(defaultConnectTimeout)
	c.CopyRows = 50000
}

// Validate implements sdk.Validator.
func (c *SinkConfig) Validate() error {
	var errs sdk.ConfigErrors
	errs = append(errs, validateURL(c.URL)...)
	errs = append(errs, validateTarget(c.Table, c.Model, "", "set table or model")...)
	switch c.Mode {
	case ModeAppend:
	case ModeUpsert, ModeInsertIgnore:
		if len(c.Key) == 0 {
			errs = append(errs, sdk.ConfigError("key", "mode %s needs key: the columns that identify a row, e.g. key: [id]", c.Mode))
		}
	default:
		errs = append(errs, sdk.ConfigError("mode", "must be append, upsert or insert_ignore (got %q)", c.Mode))
	}
	for i, k := range c.Key {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("key[%d]", i), "must be a column name"))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// table is the sink's target table name (without schema).
func (c *SinkConfig) table() (schema, name string) { return splitTable(c.Schema, c.Table, c.Model) }

// SourceConfig configures the postgres source.
type SourceConfig struct {
	URL         string   `json:"url" jsonschema:"required,description=PostgreSQL URL such as postgres://user:pass@host:5432/db (the password is never logged)" adf:"connect,secret"`
	Table       string   `json:"table,omitempty" jsonschema:"description=table to read (optionally schema.table); or set model or query"`
	Model       string   `json:"model,omitempty" jsonschema:"description=Rails-style model name mapped to its table (Order -> orders)"`
	Schema      string   `json:"schema,omitempty" jsonschema:"description=PostgreSQL schema of the table (default: the search_path)"`
	Query       string   `json:"query,omitempty" jsonschema:"description=a SELECT to read instead of a table; it must return the split column"`
	Mode        string   `json:"mode,omitempty" jsonschema:"enum=full,enum=incremental,description=full reads every row; incremental reads rows whose cursor is past the last run's high-water mark (default: incremental when cursor is set)"`
	Key         []string `json:"key,omitempty" jsonschema:"description=the unique integer key of the rows (default: the table's primary key); the default split column"`
	Cursor      string   `json:"cursor,omitempty" jsonschema:"description=incremental mode: the column (such as id or updated_at) whose high-water mark is kept between runs"`
	CursorName  string   `json:"cursor_name,omitempty" jsonschema:"description=name under which the high-water mark is kept in adf_source_cursors (default: table or query and cursor column); give two flows reading the same table different names"`
	SplitColumn string   `json:"split_column,omitempty" jsonschema:"description=unique integer column whose ranges make the splits and whose order pages the reads (default: key, else the primary key, else an integer cursor)"`
	Splits      int      `json:"splits,omitempty" jsonschema:"minimum=1,description=number of key-range splits (default 4 per reader)"`
	BatchSize   int      `json:"batch_size,omitempty" jsonschema:"minimum=1,description=rows per Arrow batch and per keyset page (default 10000)"`
}

// Defaults implements sdk.Defaulter.
func (c *SourceConfig) Defaults() { c.BatchSize = 10000 }

// Validate implements sdk.Validator.
func (c *SourceConfig) Validate() error {
	var errs sdk.ConfigErrors
	errs = append(errs, validateURL(c.URL)...)
	errs = append(errs, validateTarget(c.Table, c.Model, c.Query, "set table, model or query")...)
	switch c.Mode {
	case "":
		c.Mode = ModeFull
		if c.Cursor != "" {
			c.Mode = ModeIncremental
		}
	case ModeFull:
	case ModeIncremental:
		if c.Cursor == "" {
			errs = append(errs, sdk.ConfigError("cursor", "mode incremental needs cursor: the column such as id or updated_at that grows with new rows"))
		}
	default:
		errs = append(errs, sdk.ConfigError("mode", "must be full or incremental (got %q)", c.Mode))
	}
	if len(c.Key) > 1 && c.SplitColumn == "" {
		errs = append(errs, sdk.ConfigError("key", "the source pages by one unique integer column; set split_column when key has several columns"))
	}
	if c.Query != "" && c.SplitColumn == "" && len(c.Key) == 0 && !(c.Cursor != "" && c.Mode == ModeIncremental) {
		errs = append(errs, sdk.ConfigError("split_column", "a query needs split_column (or key): a unique integer column it returns, so reads can be split and resumed"))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func validateURL(u string) sdk.ConfigErrors {
	if strings.TrimSpace(u) == "" {
		return sdk.ConfigErrors{sdk.ConfigError("url", "required: a PostgreSQL URL such as postgres://user@host:5432/db")}
	}
	if strings.Contains(u, "://") {
		p, err := url.Parse(u)
		if err != nil {
			return sdk.ConfigErrors{sdk.ConfigError("url", "not a valid URL: %s", redactString(err.Error(), passwordOf(u)))}
		}
		if p.Scheme != "postgres" && p.Scheme != "postgresql" {
			return sdk.ConfigErrors{sdk.ConfigError("url", "scheme must be postgres:// or postgresql:// (got %q)", p.Scheme)}
		}
	}
	return nil
}

func validateTarget(table, model, query, missing string) sdk.ConfigErrors {
	n := 0
	for _, s := range []string{table, model, query} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return sdk.ConfigErrors{sdk.ConfigError("table", "%s", missing)}
	case n > 1:
		field := "model"
		if query != "" {
			field = "query"
		}
		return sdk.ConfigErrors{sdk.ConfigError(field, "set only one of table, model and query")}
	}
	if model != "" && !modelRE.MatchString(model) {
		return sdk.ConfigErrors{sdk.ConfigError("model", "must be a model name such as Order or LineItem (got %q)", model)}
	}
	return nil
}

var modelRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$`)

// splitTable resolves schema and table from the config fields.
func splitTable(schema, table, model string) (string, string) {
	if model != "" {
		return schema, TableForModel(model)
	}
	if schema == "" {
		if s, t, ok := strings.Cut(table, "."); ok {
			return s, t
		}
	}
	return schema, table
}

// TableForModel maps a model name to its table the way Rails does by
// default: the namespace is dropped, the name is snake_cased and its last
// word pluralized (Order -> orders, LineItem -> line_items, Person -> people,
// Category -> categories).
func TableForModel(model string) string {
	if i := strings.LastIndex(model, "::"); i >= 0 {
		model = model[i+2:]
	}
	s := underscore(model)
	words := strings.Split(s, "_")
	words[len(words)-1] = pluralize(words[len(words)-1])
	return strings.Join(words, "_")
}

func underscore(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
				(i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

var irregular = map[string]string{
	"person": "people", "man": "men", "woman": "women", "child": "children", "sex": "sexes",
	"move": "moves", "zombie": "zombies", "ox": "oxen", "mouse": "mice", "louse": "lice",
}

var uncountable = map[string]bool{
	"equipment": true, "information": true, "rice": true, "money": true, "species": true,
	"series": true, "fish": true, "sheep": true, "jeans": true, "police": true,
}

var pluralRules = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`(quiz)$`), "${1}zes"},
	{regexp.MustCompile(`^(oxen)$`), "${1}"},
	{regexp.MustCompile(`(matr|vert|ind)(?:ix|ex)$`), "${1}ices"},
	{regexp.MustCompile(`(x|ch|ss|sh)$`), "${1}es"},
	{regexp.MustCompile(`([^aeiouy]|qu)y$`), "${1}ies"},
	{regexp.MustCompile(`(hive)$`), "${1}s"},
	{regexp.MustCompile(`(?:([^f])fe|([lr])f)$`), "${1}${2}ves"},
	{regexp.MustCompile(`sis$`), "ses"},
	{regexp.MustCompile(`([ti])a$`), "${1}a"},
	{regexp.MustCompile(`([ti])um$`), "${1}a"},
	{regexp.MustCompile(`(buffal|tomat)o$`), "${1}oes"},
	{regexp.MustCompile(`(bu)s$`), "${1}ses"},
	{regexp.MustCompile(`(alias|status)$`), "${1}es"},
	{regexp.MustCompile(`(octop|vir)(?:us|i)$`), "${1}i"},
	{regexp.MustCompile(`^(ax|test)is$`), "${1}es"},
	{regexp.MustCompile(`s$`), "s"},
}

func pluralize(w string) string {
	if w == "" || uncountable[w] {
		return w
	}
	if p, ok := irregular[w]; ok {
		return p
	}
	for _, r := range pluralRules {
		if r.re.MatchString(w) {
			return r.re.ReplaceAllString(w, r.repl)
		}
	}
	return w + "s"
}

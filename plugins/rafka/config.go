package rafkaplugin

import (
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// Source modes and value formats.
const (
	// ModeContinuous runs until the flow is stopped.
	ModeContinuous = "continuous"
	// ModeAvailableNow reads what existed at start, then ends.
	ModeAvailableNow = "available_now"
	// FormatJSON decodes values as JSON objects into columns (source) or
	// writes rows as JSON objects (sink).
	FormatJSON = "json"
	// FormatRaw keeps values as bytes.
	FormatRaw = "raw"
)

// Column is one column of an explicit JSON schema.
type Column struct {
	Name string `json:"name" jsonschema:"required,description=JSON field name (a top-level key of the value object)"`
	Type string `json:"type" jsonschema:"required,enum=int64,enum=float64,enum=bool,enum=string,enum=json,description=column type; json keeps a nested value as JSON text"`
}

// SourceConfig configures the rafka source.
type SourceConfig struct {
	URL        string       `json:"url" jsonschema:"required,description=Redis URL such as redis://localhost:6379/0 (rediss:// for TLS)" adf:"connect,secret"`
	Topic      string       `json:"topic" jsonschema:"required,description=topic name; its partitions are the streams rafka:{topic}:0 … N-1"`
	Group      string       `json:"group" jsonschema:"required,description=consumer group; flows in different groups each read everything"`
	Consumer   string       `json:"consumer,omitempty" jsonschema:"description=consumer name within the group (default adf); flows sharing a group need distinct names"`
	Start      string       `json:"start,omitempty" jsonschema:"description=where a new group starts: earliest (default), latest or an entry id such as 1718000000000-0; an existing group keeps its position"`
	Format     string       `json:"format,omitempty" jsonschema:"enum=json,enum=raw,description=value format: json decodes the value object into columns; raw keeps it as bytes (default raw)"`
	Mode       string       `json:"mode,omitempty" jsonschema:"enum=continuous,enum=available_now,description=continuous runs until stopped; available_now reads what existed at start and ends (default continuous)"`
	Schema     []Column     `json:"schema,omitempty" jsonschema:"description=format json: explicit columns [{name, type}]; default: inferred from the first entries"`
	Headers    bool         `json:"headers,omitempty" jsonschema:"description=add a headers column: the entry's fields other than key and value, as a JSON object (default false)"`
	InferRows  int          `json:"infer_rows,omitempty" jsonschema:"minimum=1,description=format json: entries sampled per partition to infer the schema (default 100)"`
	BatchSize  int          `json:"batch_size,omitempty" jsonschema:"minimum=1,maximum=100000,description=entries read per partition per XREADGROUP and rows per Arrow batch at most (default 4096)"`
	Block      sdk.Duration `json:"block,omitempty" jsonschema:"description=continuous mode: how long one XREADGROUP waits for new entries (default 500ms)"`
	ClaimIdle  sdk.Duration `json:"claim_idle,omitempty" jsonschema:"description=pending entries of other consumers idle this long are claimed with XAUTOCLAIM (default 5m; must exceed the checkpoint interval)"`
	Discover   sdk.Duration `json:"discover_interval,omitempty" jsonschema:"description=continuous mode: how often to look for partitions added to the topic (default 5s)"`
	RetryLimit sdk.Duration `json:"retry_limit,omitempty" jsonschema:"description=how long a reader retries a failing Redis before failing the attempt (default 60s)"`
}

// Defaults implements sdk.Defaulter.
func (c *SourceConfig) Defaults() {
	c.Consumer = "adf"
	c.Start = "earliest"
	c.Format = FormatRaw
	c.Mode = ModeContinuous
	c.InferRows = 100
	c.BatchSize = 4096
	c.Block = sdk.Duration(500 * time.Millisecond)
	c.ClaimIdle = sdk.Duration(5 * time.Minute)
	c.Discover = sdk.Duration(5 * time.Second)
	c.RetryLimit = sdk.Duration(60 * time.Second)
}

// Validate implements sdk.Validator.
func (c *SourceConfig) Validate() error {
	var errs sdk.ConfigErrors
	if err := validURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	if err := rafka.ValidTopic(c.Topic); err != nil {
		errs = append(errs, sdk.ConfigError("topic", "%v", err))
	}
	if strings.TrimSpace(c.Group) == "" {
		errs = append(errs, sdk.ConfigError("group", "must not be empty"))
	}
	if strings.TrimSpace(c.Consumer) == "" {
		errs = append(errs, sdk.ConfigError("consumer", "must not be empty"))
	}
	if _, err := startID(c.Start); err != nil {
		errs = append(errs, sdk.ConfigError("start", "%v", err))
	}
	for i, col := range c.Schema {
		if col.Name == "" {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("schema[%d].name", i), "required field is missing"))
		}
		if !validType(col.Type) {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("schema[%d].type", i), "unknown type %q (use int64, float64, bool, string or json)", col.Type))
		}
	}
	if len(c.Schema) > 0 && c.Format != FormatJSON {
		errs = append(errs, sdk.ConfigError("schema", "only used with format: json"))
	}
	if c.Block.D() <= 0 || c.Block.D() > 10*time.Second {
		errs = append(errs, sdk.ConfigError("block", "must be between 1ms and 10s (got %s)", c.Block.D()))
	}
	if c.ClaimIdle.D() < time.Millisecond {
		errs = append(errs, sdk.ConfigError("claim_idle", "must be at least 1ms"))
	}
	if c.Discover.D() < 100*time.Millisecond {
		errs = append(errs, sdk.ConfigError("discover_interval", "must be at least 100ms"))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// startID maps the start setting to an XGROUP CREATE id.
func startID(s string) (string, error) {
	switch s {
	case "", "earliest":
		return "0", nil
	case "latest":
		return "$", nil
	}
	if _, err := rafka.ParseID(s); err != nil {
		return "", fmt.Errorf("must be earliest, latest or an entry id such as 1718000000000-0 (got %q)", s)
	}
	return s, nil
}

func validType(t string) bool {
	switch t {
	case "int64", "float64", "bool", "string", "json":
		return true
	}
	return false
}

func validURL(u string) *sdk.Error {
	if _, err := redis.ParseURL(u); err != nil {
		return sdk.ConfigError("url", "not a Redis URL (%v); use redis://host:port/db", err)
	}
	return nil
}

// SinkConfig configures the rafka sink.
type SinkConfig struct {
	URL           string   `json:"url" jsonschema:"required,description=Redis URL such as redis://localhost:6379/0" adf:"connect,secret"`
	Topic         string   `json:"topic" jsonschema:"required,description=topic to append to"`
	Partitions    int      `json:"partitions,omitempty" jsonschema:"minimum=1,maximum=4096,description=create the topic with this many partitions when it does not exist (default: the topic must exist)"`
	Format        string   `json:"format,omitempty" jsonschema:"enum=json,enum=raw,description=json: the value is the row as a JSON object (or value_column as JSON); raw: the value is value_column's bytes (default json)"`
	KeyColumn     string   `json:"key_column,omitempty" jsonschema:"description=column whose value is the message key and picks the partition (default: the column key when present; else round robin)"`
	ValueColumn   string   `json:"value_column,omitempty" jsonschema:"description=column written as the value (default: the whole row as JSON)"`
	HeaderColumns []string `json:"header_columns,omitempty" jsonschema:"description=columns written as extra entry fields (headers)"`
	MaxLen        int64    `json:"maxlen,omitempty" jsonschema:"minimum=1,description=retention: trim each partition to about this many entries (XADD MAXLEN ~)"`
	MinID         string   `json:"minid,omitempty" jsonschema:"description=retention: trim entries with ids below this one (XADD MINID ~)"`
	BatchSize     int      `json:"batch_size,omitempty" jsonschema:"minimum=1,description=XADDs per pipeline round trip (default 1000)"`
}

// Defaults implements sdk.Defaulter.
func (c *SinkConfig) Defaults() {
	c.Format = FormatJSON
	c.BatchSize = 1000
}

// Validate implements sdk.Validator.
func (c *SinkConfig) Validate() error {
	var errs sdk.ConfigErrors
	if err := validURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	if err := rafka.ValidTopic(c.Topic); err != nil {
		errs = append(errs, sdk.ConfigError("topic", "%v", err))
	}
	if c.MaxLen > 0 && c.MinID != "" {
		errs = append(errs, sdk.ConfigError("minid", "set maxlen or minid, not both"))
	}
	if c.MinID != "" {
		if _, err := rafka.ParseID(c.MinID); err != nil {
			errs = append(errs, sdk.ConfigError("minid", "not an entry id such as 1718000000000-0 (got %q)", c.MinID))
		}
	}
	if c.Format == FormatRaw && c.ValueColumn == "" {
		errs = append(errs, sdk.ConfigError("value_column", "required with format: raw"))
	}
	for i, h := range c.HeaderColumns {
		if h == "key" || h == "value" {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("header_columns[%d]", i), "%q is reserved for the message key and value", h))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// CacheConfig configures the redis_cache sink.
type CacheConfig struct {
	URL          string       `json:"url" jsonschema:"required,description=Redis URL such as redis://localhost:6379/0" adf:"connect,secret"`
	KeyAttribute string       `json:"key_attribute" jsonschema:"required,description=column whose value names the cache entry; a row without it is rejected"`
	KeyPrefix    string       `json:"key_prefix,omitempty" jsonschema:"description=prepended to every key, e.g. users:"`
	TTL          sdk.Duration `json:"ttl,omitempty" jsonschema:"description=expiry of each entry such as 1h (default: no expiry)"`
	ValueColumn  string       `json:"value_column,omitempty" jsonschema:"description=store only this column (strings and bytes as they are, others as JSON); default: the row as a JSON object"`
	BatchSize    int          `json:"batch_size,omitempty" jsonschema:"minimum=1,description=SETs per pipeline round trip (default 1000)"`
}

// Defaults implements sdk.Defaulter.
func (c *CacheConfig) Defaults() { c.BatchSize = 1000 }

// Validate implements sdk.Validator.
func (c *CacheConfig) Validate() error {
	var errs sdk.ConfigErrors
	if err := validURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(c.KeyAttribute) == "" {
		errs = append(errs, sdk.ConfigError("key_attribute", "must not be empty"))
	}
	if c.TTL.D() < 0 {
		errs = append(errs, sdk.ConfigError("ttl", "must not be negative"))
	}
	if c.TTL.D() > 0 && c.TTL.D() < time.Millisecond {
		errs = append(errs, sdk.ConfigError("ttl", "must be at least 1ms"))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// DiscardConfig configures the discard sink (no settings).
type DiscardConfig struct{}

// newClient opens a Redis client for url; connection pools are sized for
// one reader or sink. go-redis retries a command that failed on a network
// error (up to 2 more times): fine for idempotent commands (XACK, XPENDING,
// XINFO, XADD of the sink's staged commit), never for reads that move
// entries into the group's pending list (see newReadClient).
func newClient(url string) (*redis.Client, error) { return openClient(url, 2) }

// newReadClient opens a Redis client that never retries a command by
// itself, for XREADGROUP ... > and XAUTOCLAIM. Those change the group on
// the server: when a connection drops after Redis ran the command but
// before its reply arrived, the entries it delivered sit in the consumer's
// pending list, and a blind retry reads the next ones instead, so the
// undelivered batch would be skipped. The reader retries itself, re-reading
// its own pending entries first.
func newReadClient(url string) (*redis.Client, error) { return openClient(url, -1) }

func openClient(url string, retries int) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, sdk.ConfigError("url", "not a Redis URL: %v", err)
	}
	opts.PoolSize = 4
	opts.MaxRetries = retries
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 10 * time.Second
	opts.WriteTimeout = 10 * time.Second
	return redis.NewClient(opts), nil
}

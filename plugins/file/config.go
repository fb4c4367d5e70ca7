package file

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/activedataflow/adf/plugins/file/format"
	"github.com/activedataflow/adf/sdk"
)

// Formats.
const (
	FormatCSV     = "csv"
	FormatJSON    = "json"
	FormatJSONL   = "jsonl"
	FormatParquet = "parquet"
)

// SourceConfig configures the file source.
type SourceConfig struct {
	Path      string          `json:"path" jsonschema:"required,description=a file\\, a directory (every file in it) or a glob such as data/*.csv" adf:"path"`
	Format    string          `json:"format,omitempty" jsonschema:"enum=csv,enum=json,enum=jsonl,enum=parquet,description=file format; default from the file extension (.csv\\, .json\\, .jsonl/.ndjson\\, .parquet)"`
	Header    *bool           `json:"header,omitempty" jsonschema:"description=CSV: the first line names the columns (default true)"`
	Delimiter string          `json:"delimiter,omitempty" jsonschema:"description=CSV field delimiter\\, one character (default \\,)"`
	Multiline bool            `json:"multiline,omitempty" jsonschema:"description=deprecated\\, no effect: quoted CSV fields may always hold line breaks (RFC 4180)\\, and such files are still split into byte ranges"`
	Schema    []format.Column `json:"schema,omitempty" jsonschema:"description=explicit columns [{name\\, type}] with type int64\\, float64\\, bool\\, string\\, timestamp or date; default: inferred"`
	InferRows int             `json:"infer_rows,omitempty" jsonschema:"minimum=1,description=rows sampled to infer the schema (default 1000)"`
	Nulls     []string        `json:"null_values,omitempty" jsonschema:"description=CSV values read as null (default: the empty string)"`
	SplitSize int64           `json:"split_size,omitempty" jsonschema:"minimum=1024,description=bytes per byte-range split of CSV and JSON-lines files (default: each file in two splits per reader\\, each of 4 MiB to 64 MiB); Parquet: consecutive row groups are joined into splits of about this many bytes (default: one split per row group)"`
	BatchSize int             `json:"batch_size,omitempty" jsonschema:"minimum=1,description=rows per Arrow batch (default 8192)"`
	Mode      string          `json:"mode,omitempty" jsonschema:"enum=bounded,enum=continuous,description=bounded reads the files present at start; continuous keeps discovering new files (default bounded)"`
	Discover  sdk.Duration    `json:"discover_interval,omitempty" jsonschema:"description=continuous mode: how often to look for new files (default 10s\\, at least 100ms)"`
	// S3, GCS and Azblob configure s3://, gs:// and azblob:// paths.
	S3     *S3Config     `json:"s3,omitempty" jsonschema:"description=s3:// paths: endpoint\\, region\\, use_path_style\\, access_key_id and secret_access_key (default: the AWS credential chain)"`
	GCS    *GCSConfig    `json:"gcs,omitempty" jsonschema:"description=gs:// paths: endpoint\\, credentials_json\\, anonymous (default: Application Default Credentials and gocloud's URL parameters)"`
	Azblob *AzblobConfig `json:"azblob,omitempty" jsonschema:"description=azblob:// paths: account\\, key or sas_token\\, endpoint (default: the Azure credential chain and gocloud's URL parameters)"`
}

// Defaults implements sdk.Defaulter.
func (c *SourceConfig) Defaults() {
	c.InferRows = 1000
	c.BatchSize = 8192
	c.Mode = "bounded"
	c.Discover = sdk.Duration(10e9)
	c.Delimiter = ","
}

// MinDiscoverInterval is the shortest discover_interval: listing the input
// more often only burns a core.
const MinDiscoverInterval = 100 * time.Millisecond

// Validate implements sdk.Validator.
func (c *SourceConfig) Validate() error {
	var errs sdk.ConfigErrors
	if c.Path == "" {
		errs = append(errs, sdk.ConfigError("path", "must not be empty: name a file, a directory or a glob such as data/*.csv"))
	}
	if e := checkDelimiter(c.Delimiter); e != nil {
		errs = append(errs, e)
	}
	if isURL(c.Path) {
		if e := checkObjURL(c.Path, c.stores()); e != nil {
			errs = append(errs, e)
		}
	}
	if kp := keyPath(c.Path); c.Format == "" && formatOf(kp) == "" && !hasGlob(kp) && filepath.Ext(kp) != "" {
		errs = append(errs, sdk.ConfigError("format", "cannot tell the format of %q from its extension; set format: csv, json, jsonl or parquet", c.Path))
	}
	if len(c.Schema) > 0 && (c.Format == FormatParquet || (c.Format == "" && formatOf(keyPath(c.Path)) == FormatParquet)) {
		errs = append(errs, sdk.ConfigError("schema", "Parquet files carry their own schema; remove schema"))
	}
	if c.Discover.D() < MinDiscoverInterval {
		errs = append(errs, sdk.ConfigError("discover_interval", "must be at least %s (got %s)", MinDiscoverInterval, c.Discover.D()))
	}
	seen := map[string]bool{}
	for i, col := range c.Schema {
		if col.Name == "" {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("schema[%d].name", i), "required field is missing"))
		} else if seen[col.Name] {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("schema[%d].name", i), "column %q is named twice", col.Name))
		}
		seen[col.Name] = true
		if !format.ValidType(col.Type) {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("schema[%d].type", i), "unknown type %q (use int64, float64, bool, string, timestamp or date)", col.Type))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// checkDelimiter checks a CSV delimiter: one character, neither a quote nor
// a line break.
func checkDelimiter(d string) *sdk.Error {
	if utf8.RuneCountInString(d) != 1 {
		return sdk.ConfigError("delimiter", "must be exactly one character (got %q)", d)
	}
	if r, _ := utf8.DecodeRuneInString(d); r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
		return sdk.ConfigError("delimiter", "cannot be %q: quotes and line breaks have their own meaning in CSV", d)
	}
	return nil
}

func (c *SourceConfig) header() bool { return c.Header == nil || *c.Header }

func (c *SourceConfig) csvOptions() format.CSVOptions {
	r, _ := utf8.DecodeRuneInString(c.Delimiter)
	return format.CSVOptions{Delimiter: r, Header: c.header(), NullValues: c.Nulls}
}

// formatFor is the format of one file.
func (c *SourceConfig) formatFor(path string) string {
	if c.Format != "" {
		return c.Format
	}
	return formatOf(path)
}

// SinkConfig configures the file sink.
type SinkConfig struct {
	Path      string `json:"path" jsonschema:"required,description=output file; or a directory (ending in /) that receives one part file per checkpoint" adf:"path"`
	Format    string `json:"format,omitempty" jsonschema:"enum=csv,enum=jsonl,enum=parquet,description=output format; default from the extension (.csv\\, .parquet\\, else jsonl)"`
	Header    *bool  `json:"header,omitempty" jsonschema:"description=CSV: write a header line (default true)"`
	Delimiter string `json:"delimiter,omitempty" jsonschema:"description=CSV field delimiter (default \\,)"`
	// Compression and RowGroupSize configure Parquet output.
	Compression  string `json:"compression,omitempty" jsonschema:"enum=zstd,enum=snappy,enum=none,description=Parquet: column compression (default zstd)"`
	RowGroupSize int64  `json:"row_group_size,omitempty" jsonschema:"minimum=1,description=Parquet: rows per row group (default 131072); a row group also ends with each part file"`
	// PartitionBy names the columns whose values pick a row's subdirectory.
	PartitionBy []string `json:"partition_by,omitempty" jsonschema:"description=directory output (path ending in /): write each row under <col>=<value>/ subdirectories (Hive style) of these columns' values"`
	// S3, GCS and Azblob configure s3://, gs:// and azblob:// paths.
	S3     *S3Config     `json:"s3,omitempty" jsonschema:"description=s3:// paths: endpoint\\, region\\, use_path_style\\, access_key_id and secret_access_key (default: the AWS credential chain)"`
	GCS    *GCSConfig    `json:"gcs,omitempty" jsonschema:"description=gs:// paths: endpoint\\, credentials_json\\, anonymous (default: Application Default Credentials and gocloud's URL parameters)"`
	Azblob *AzblobConfig `json:"azblob,omitempty" jsonschema:"description=azblob:// paths: account\\, key or sas_token\\, endpoint (default: the Azure credential chain and gocloud's URL parameters)"`
}

// Defaults implements sdk.Defaulter.
func (c *SinkConfig) Defaults() {
	c.Delimiter = ","
	c.Compression = "zstd"
	c.RowGroupSize = format.DefaultRowGroupSize
}

// Validate implements sdk.Validator.
func (c *SinkConfig) Validate() error {
	var errs sdk.ConfigErrors
	if c.Path == "" || c.Path == "/" {
		errs = append(errs, sdk.ConfigError("path", "must name an output file, or a directory ending in / (got %q)", c.Path))
	}
	if e := checkDelimiter(c.Delimiter); e != nil {
		errs = append(errs, e)
	}
	if !format.ValidCompression(c.Compression) {
		errs = append(errs, sdk.ConfigError("compression", "unknown compression %q (use zstd, snappy or none)", c.Compression))
	}
	if isURL(c.Path) {
		if e := checkObjURL(c.Path, c.stores()); e != nil {
			errs = append(errs, e)
		}
	}
	if len(c.PartitionBy) > 0 && !strings.HasSuffix(keyPath(c.Path), "/") {
		errs = append(errs, sdk.ConfigError("partition_by", "needs a directory output: end path in / (got %q)", stripQuery(c.Path)))
	}
	seenCol := map[string]bool{}
	for i, col := range c.PartitionBy {
		if col == "" {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("partition_by[%d]", i), "must name a column"))
		} else if seenCol[col] {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("partition_by[%d]", i), "column %q is named twice", col))
		}
		seenCol[col] = true
	}
	if c.RowGroupSize < 1 {
		errs = append(errs, sdk.ConfigError("row_group_size", "must be at least 1 row (got %d)", c.RowGroupSize))
	}
	if len(errs) > 0 {
		return errs
	}
	if c.Format == "" {
		c.Format = FormatJSONL
		switch formatOf(strings.TrimSuffix(keyPath(c.Path), "/")) {
		case FormatCSV:
			c.Format = FormatCSV
		case FormatParquet:
			c.Format = FormatParquet
		}
	}
	return nil
}

func formatOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".tsv":
		return FormatCSV
	case ".json":
		return FormatJSON
	case ".jsonl", ".ndjson":
		return FormatJSONL
	case ".parquet", ".pq":
		return FormatParquet
	}
	return ""
}

func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// stores returns the source's object-store options.
func (c *SourceConfig) stores() objStores { return objStores{S3: c.S3, GCS: c.GCS, Azblob: c.Azblob} }

// stores returns the sink's object-store options.
func (c *SinkConfig) stores() objStores { return objStores{S3: c.S3, GCS: c.GCS, Azblob: c.Azblob} }

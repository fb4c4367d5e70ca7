package iceberg

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/activedataflow/adf/sdk"
)

// Modes of the source.
const (
	ModeFull        = "full"
	ModeIncremental = "incremental"
)

// CatalogConfig names the catalog, the warehouse and the table; source and
// sink share it. catalog_uri, warehouse and table are public names that flow
// files rely on: extended, never renamed.
type CatalogConfig struct {
	CatalogURI  string            `json:"catalog_uri" jsonschema:"required,description=catalog: sqlite:///path/catalog.db (SQL catalog on SQLite)\\, postgres://user@host/db (SQL catalog on PostgreSQL) or http(s)://host/ (REST catalog)" adf:"connect,secret"`
	Warehouse   string            `json:"warehouse" jsonschema:"required,description=warehouse location such as file:///path (new tables are created under it)" adf:"path"`
	Table       string            `json:"table" jsonschema:"required,description=table as namespace.name (nested namespaces: a.b.name)"`
	CatalogName string            `json:"catalog_name,omitempty" jsonschema:"description=catalog name recorded in the SQL catalog's rows (default: default); other engines must use the same name"`
	Properties  map[string]string `json:"catalog_properties,omitempty" jsonschema:"description=extra catalog properties passed to iceberg-go (e.g. REST credential\\, token)" adf:"secret_keys=credential|token|password|s3.secret-access-key|s3.session-token|gcs.oauth2.token|gcs.jsonkey|adls.auth.shared-key.account.key|adls.sas-token.*"`
}

func (c *CatalogConfig) defaults() { c.CatalogName = "default" }

func (c *CatalogConfig) validate() sdk.ConfigErrors {
	var errs sdk.ConfigErrors
	if _, _, err := parseCatalogURI(c.CatalogURI); err != nil {
		errs = append(errs, sdk.ConfigError("catalog_uri", "%v", err))
	}
	if !strings.Contains(c.Warehouse, "://") {
		errs = append(errs, sdk.ConfigError("warehouse", "must be a URI such as file:///var/lib/warehouse (got %q)", c.Warehouse))
	}
	if _, err := parseIdent(c.Table); err != nil {
		errs = append(errs, sdk.ConfigError("table", "%v", err))
	}
	return errs
}

// SinkConfig configures the iceberg sink.
type SinkConfig struct {
	CatalogConfig
	PartitionBy    []string          `json:"partition_by,omitempty" jsonschema:"description=partition spec of a table the sink creates: column names or transforms such as day(ts)\\, hour(ts)\\, month(ts)\\, year(ts)\\, bucket(16\\, id)\\, truncate(4\\, name)\\, identity(name)"`
	CreateTable    *bool             `json:"create_table,omitempty" jsonschema:"description=create the table (and its namespace) from the data's schema when missing (default true)"`
	EvolveSchema   bool              `json:"evolve_schema,omitempty" jsonschema:"description=add new nullable columns found in the data to the table (default false: such columns are an error)"`
	TargetFileSize int64             `json:"target_file_size,omitempty" jsonschema:"minimum=1048576,description=target Parquet data file size in bytes (default 128 MiB)"`
	TableProps     map[string]string `json:"table_properties,omitempty" jsonschema:"description=properties of a table the sink creates (e.g. write.parquet.compression-codec)"`
}

// Defaults implements sdk.Defaulter.
func (c *SinkConfig) Defaults() {
	c.CatalogConfig.defaults()
	c.TargetFileSize = 128 << 20
}

// Validate implements sdk.Validator.
func (c *SinkConfig) Validate() error {
	errs := c.CatalogConfig.validate()
	for i, p := range c.PartitionBy {
		if _, _, _, err := parsePartitionField(p); err != nil {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("partition_by[%d]", i), "%v", err))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (c *SinkConfig) createTable() bool { return c.CreateTable == nil || *c.CreateTable }

// SourceConfig configures the iceberg source.
type SourceConfig struct {
	CatalogConfig
	Mode       string   `json:"mode,omitempty" jsonschema:"enum=full,enum=incremental,description=full scans the table (or a snapshot); incremental reads only the snapshots appended since the previous run of the same cursor (default full)"`
	Cursor     string   `json:"cursor,omitempty" jsonschema:"description=incremental: name under which the last snapshot read is kept (warehouse/adf/cursors/<namespace.table>/<cursor>.json); required in incremental mode\\, one per consuming flow"`
	SnapshotID int64    `json:"snapshot_id,omitempty" jsonschema:"description=full: read this snapshot instead of the current one"`
	AsOf       string   `json:"as_of,omitempty" jsonschema:"description=full: read the snapshot current at this time (RFC 3339\\, e.g. 2026-01-02T15:04:05Z)"`
	Columns    []string `json:"columns,omitempty" jsonschema:"description=columns to read (default all)"`
	Filter     string   `json:"filter,omitempty" jsonschema:"description=row filter such as: amount > 10 and (name = 'bob' or name is null); operators = != < <= > >= in (...) not in (...) is null is not null starts with\\, combined with and/or/not"`
	BatchSize  int      `json:"batch_size,omitempty" jsonschema:"minimum=1,description=rows per Arrow batch (default 8192)"`
}

// Defaults implements sdk.Defaulter.
func (c *SourceConfig) Defaults() {
	c.CatalogConfig.defaults()
	c.Mode = ModeFull
	c.BatchSize = 8192
}

// Validate implements sdk.Validator.
func (c *SourceConfig) Validate() error {
	errs := c.CatalogConfig.validate()
	if c.Mode == ModeIncremental {
		if c.Cursor == "" {
			errs = append(errs, sdk.ConfigError("cursor", "required in incremental mode: a name for this consumer's position, e.g. the flow's name"))
		} else if !cursorName.MatchString(c.Cursor) {
			errs = append(errs, sdk.ConfigError("cursor", "must match [A-Za-z0-9_.-]+ (got %q)", c.Cursor))
		}
		if c.SnapshotID != 0 || c.AsOf != "" {
			errs = append(errs, sdk.ConfigError("mode", "snapshot_id and as_of select one snapshot of a full scan; they do not apply to incremental mode"))
		}
	}
	if c.SnapshotID != 0 && c.AsOf != "" {
		errs = append(errs, sdk.ConfigError("as_of", "set either snapshot_id or as_of, not both"))
	}
	if c.AsOf != "" {
		if _, err := time.Parse(time.RFC3339Nano, c.AsOf); err != nil {
			errs = append(errs, sdk.ConfigError("as_of", "not an RFC 3339 time such as 2026-01-02T15:04:05Z: %v", err))
		}
	}
	if c.Filter != "" {
		if _, err := parseFilter(c.Filter); err != nil {
			errs = append(errs, sdk.ConfigError("filter", "%v", err))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

var cursorName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

package iceberg

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/activedataflow/adf/sdk"
)

// Check implements sdk.Checker: the catalog and the warehouse the source
// reads can be found.
func (c *SourceConfig) Check(ctx context.Context) []*sdk.Error {
	return c.CatalogConfig.check(ctx, true)
}

// Check implements sdk.Checker: the catalog the sink writes to can be found
// or created (the sink creates a missing SQLite catalog file and warehouse
// directory).
func (c *SinkConfig) Check(ctx context.Context) []*sdk.Error {
	return c.CatalogConfig.check(ctx, false)
}

// check looks, without connecting, for what catalog_uri and warehouse
// name: a SQLite catalog's file (its directory, for a sink), a catalog
// server's host name, a local warehouse directory (for a source).
func (c *CatalogConfig) check(ctx context.Context, reads bool) []*sdk.Error {
	var out []*sdk.Error
	kind, _, err := parseCatalogURI(c.CatalogURI)
	if err != nil {
		return nil // Validate reports it
	}
	switch kind {
	case kindSQLite:
		path := strings.TrimPrefix(c.CatalogURI, c.CatalogURI[:strings.Index(c.CatalogURI, "://")+3])
		path, _, _ = strings.Cut(path, "?")
		if _, err := os.Stat(path); err == nil {
			break
		}
		dir := filepath.Dir(path)
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			out = append(out, &sdk.Error{Code: sdk.CodeNotFound, Field: "catalog_uri", Err: err,
				Summary: fmt.Sprintf("directory %s does not exist", dir),
				Detail:  fmt.Sprintf("the SQLite catalog %s is kept in it; create it or check catalog_uri", path)})
		} else if reads {
			out = append(out, &sdk.Error{Code: sdk.CodeNotFound, Field: "catalog_uri",
				Summary: fmt.Sprintf("no SQLite catalog %s", path),
				Detail:  "the source reads the table from it; check catalog_uri"})
		}
	case kindPostgres, kindREST:
		if u, err := url.Parse(c.CatalogURI); err == nil {
			if w := sdk.CheckHost(ctx, "catalog_uri", u.Hostname()); w != nil {
				out = append(out, w)
			}
		}
	}
	if u, err := url.Parse(c.Warehouse); reads && err == nil && strings.EqualFold(u.Scheme, "file") && (u.Host == "" || u.Host == "localhost") {
		if _, err := os.Stat(u.Path); err != nil {
			out = append(out, &sdk.Error{Code: sdk.CodeNotFound, Field: "warehouse", Err: err,
				Summary: fmt.Sprintf("warehouse directory %s does not exist", u.Path),
				Detail:  "the source reads the table's files from it; check warehouse"})
		}
	}
	return out
}

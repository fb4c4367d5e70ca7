package iceberg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // s3://, s3a://, s3n:// warehouses
	"github.com/apache/iceberg-go/table"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/activedataflow/adf/sdk"
)

// Catalog kinds.
const (
	kindSQLite   = "sqlite"
	kindPostgres = "postgres"
	kindREST     = "rest"
)

// parseCatalogURI tells the catalog kind and returns what its client needs:
// a database/sql DSN, or the REST base URL.
func parseCatalogURI(uri string) (kind, target string, err error) {
	u, perr := url.Parse(uri)
	if uri == "" || perr != nil || u.Scheme == "" || !strings.HasPrefix(uri[len(u.Scheme):], "://") {
		return "", "", fmt.Errorf("not a catalog URI %q: use sqlite:///path/catalog.db, postgres://user@host/db or http(s)://host/", uri)
	}
	switch strings.ToLower(u.Scheme) {
	case "sqlite", "sqlite3":
		// sqlite:///abs/path.db is an absolute path, and so is SQLAlchemy's
		// (and pyiceberg's) spelling sqlite:////abs/path.db; sqlite://rel.db
		// is relative to the working directory.
		path := uri[len(u.Scheme)+len("://"):]
		if strings.HasPrefix(path, "//") {
			path = path[1:]
		}
		if path == "" || path[0] == '?' {
			return "", "", fmt.Errorf("sqlite catalog URI %q names no file: use sqlite:///absolute/path/catalog.db", uri)
		}
		q := ""
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path, q = path[:i], path[i+1:]
		}
		dsn := "file:" + path + "?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_txlock=immediate"
		if q != "" {
			dsn += "&" + q
		}
		return kindSQLite, dsn, nil
	case "postgres", "postgresql":
		return kindPostgres, uri, nil
	case "http", "https":
		return kindREST, uri, nil
	}
	return "", "", fmt.Errorf("unsupported catalog URI scheme %q in %q: use sqlite://, postgres:// or http(s)://", u.Scheme, uri)
}

// openCatalog connects to the configured catalog.
func openCatalog(ctx context.Context, c *CatalogConfig) (catalog.Catalog, error) {
	kind, target, err := parseCatalogURI(c.CatalogURI)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "catalog_uri", Summary: err.Error(), Err: err}
	}
	props := iceberg.Properties{"warehouse": c.Warehouse}
	for k, v := range c.Properties {
		props[k] = v
	}
	switch kind {
	case kindREST:
		opts := []rest.Option{rest.WithWarehouseLocation(c.Warehouse), rest.WithAdditionalProps(props)}
		if cred := c.Properties["credential"]; cred != "" {
			opts = append(opts, rest.WithCredential(cred))
		}
		if tok := c.Properties["token"]; tok != "" {
			opts = append(opts, rest.WithOAuthToken(tok))
		}
		cat, err := rest.NewCatalog(ctx, c.CatalogName, target, opts...)
		if err != nil {
			return nil, catalogErr(fmt.Sprintf("connect to the REST catalog %s", target), err)
		}
		return cat, nil
	default:
		driver, dialect := "sqlite", sqlcat.SQLite
		if kind == kindPostgres {
			driver, dialect = "pgx", sqlcat.Postgres
		}
		db, err := sql.Open(driver, target)
		if err != nil {
			return nil, catalogErr("open the SQL catalog", err)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, catalogErr(fmt.Sprintf("connect to the SQL catalog %s", redact(c.CatalogURI)), err)
		}
		cat, err := sqlcat.NewCatalog(c.CatalogName, db, dialect, props)
		if err != nil {
			db.Close()
			return nil, catalogErr(fmt.Sprintf("open the SQL catalog %s", redact(c.CatalogURI)), err)
		}
		return &ownedSQLCatalog{Catalog: cat, db: db}, nil
	}
}

// ownedSQLCatalog closes the database handle the plugin opened.
type ownedSQLCatalog struct {
	*sqlcat.Catalog
	db *sql.DB
}

// Close releases the catalog and its database handle.
func (c *ownedSQLCatalog) Close() error {
	err := c.Catalog.Close()
	return errors.Join(err, c.db.Close())
}

// closeCatalog closes a catalog that holds resources.
func closeCatalog(c catalog.Catalog) error {
	if cl, ok := c.(interface{ Close() error }); ok {
		return cl.Close()
	}
	return nil
}

func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// parseIdent splits namespace.name.
func parseIdent(s string) (table.Identifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("table must be namespace.name (got %q)", s)
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("table %q has an empty part", s)
		}
	}
	return table.Identifier(parts), nil
}

// loadTable loads the table, reporting a missing one clearly.
func loadTable(ctx context.Context, cat catalog.Catalog, ident table.Identifier, name string) (*table.Table, error) {
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		if errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) {
			return nil, &sdk.Error{Code: sdk.CodeNotFound, Field: "table", Summary: fmt.Sprintf("table %s does not exist in the catalog", name), Err: err,
				Detail: "check table and catalog_uri (and catalog_name, which must match the engine that created the table)"}
		}
		return nil, catalogErr(fmt.Sprintf("load table %s", name), err)
	}
	return tbl, nil
}

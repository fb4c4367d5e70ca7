package iceberg_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"

	"github.com/activedataflow/adf/plugins/iceberg"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/sdktest"
)

// warehouse is a catalog (a fresh SQLite one unless set otherwise: db is
// empty for PostgreSQL and REST catalogs) and a local warehouse.
type warehouse struct {
	dir, db, uri, wh string
	// props are catalog_properties (the S3 warehouse's endpoint and keys).
	props map[string]string
}

func newWarehouse(t testing.TB) *warehouse {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "catalog.db")
	return &warehouse{dir: dir, db: db, uri: "sqlite://" + db, wh: "file://" + filepath.Join(dir, "warehouse")}
}

// config renders a component config with the catalog keys and extra ones.
func (w *warehouse) config(tbl string, extra map[string]any) []byte {
	m := map[string]any{"catalog_uri": w.uri, "warehouse": w.wh, "table": tbl}
	if w.props != nil {
		m["catalog_properties"] = w.props
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// open loads the table with iceberg-go directly (not through the plugin).
func (w *warehouse) open(t testing.TB, tbl string) (*table.Table, func()) {
	t.Helper()
	ctx := context.Background()
	props := map[string]string{"type": "sql", "uri": "file:" + w.db, sqlcat.DriverKey: "sqlite", sqlcat.DialectKey: "sqlite", "warehouse": w.wh}
	for k, v := range w.props {
		props[k] = v
	}
	switch {
	case strings.HasPrefix(w.uri, "postgres"):
		props["uri"], props[sqlcat.DriverKey], props[sqlcat.DialectKey] = w.uri, "pgx", "postgres"
	case strings.HasPrefix(w.uri, "http://") || strings.HasPrefix(w.uri, "https://"):
		props = map[string]string{"type": "rest", "uri": w.uri, "warehouse": w.wh}
	}
	cat, err := catalog.Load(ctx, "default", props)
	if err != nil {
		t.Fatalf("load catalog: %v", err)
	}
	ident, _ := parseTestIdent(tbl)
	tb, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatalf("load table %s: %v", tbl, err)
	}
	return tb, func() {
		if c, ok := cat.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}

func parseTestIdent(s string) (table.Identifier, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return table.Identifier{s[:i], s[i+1:]}, nil
		}
	}
	return nil, fmt.Errorf("bad ident %q", s)
}

// readRows scans the table with iceberg-go and renders rows like sdktest.Rows.
func (w *warehouse) readRows(t testing.TB, tbl string) []string {
	t.Helper()
	tb, closeCat := w.open(t, tbl)
	defer closeCat()
	_, seq, err := tb.Scan().ToArrowRecords(context.Background())
	if err != nil {
		t.Fatalf("scan %s: %v", tbl, err)
	}
	var out []string
	for rec, err := range seq {
		if err != nil {
			t.Fatalf("scan %s: %v", tbl, err)
		}
		out = append(out, sdktest.Rows(rec)...)
		rec.Release()
	}
	return out
}

func component(kind sdk.Kind) sdk.Component {
	for _, c := range iceberg.Plugin().Components {
		if c.Kind() == kind {
			return c
		}
	}
	panic("no " + string(kind))
}

package iceberg_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/activedataflow/adf/plugins/iceberg"
	"github.com/activedataflow/adf/sdk"
)

const notFound = " not found in DNS (check the host name; the flow cannot connect until it resolves where the flow runs)"

func checkWarnings(t *testing.T, kind sdk.Kind, catalog, warehouse string) []string {
	t.Helper()
	cfg := fmt.Sprintf(`{"catalog_uri": %q, "warehouse": %q, "table": "ns.t"}`, catalog, warehouse)
	for _, c := range iceberg.Plugin().Components {
		if c.Kind() != kind {
			continue
		}
		v, err := c.DecodeConfig([]byte(cfg))
		if err != nil {
			t.Fatalf("%s config %s: %v", kind, cfg, err)
		}
		var out []string
		for _, w := range v.(sdk.Checker).Check(context.Background()) {
			out = append(out, w.Code+": "+w.Error())
		}
		return out
	}
	t.Fatalf("no iceberg %s", kind)
	return nil
}

func TestCheckCatalogAndWarehouse(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "catalog.db")
	wh := filepath.Join(dir, "warehouse")
	noDir := filepath.Join(dir, "missing")
	cases := []struct {
		name               string
		kind               sdk.Kind
		catalog, warehouse string
		want               []string
	}{
		{"source: nothing there yet", sdk.KindSource, "sqlite://" + db, "file://" + wh, []string{
			"not_found: catalog_uri: no SQLite catalog " + db + " (the source reads the table from it; check catalog_uri)",
			"not_found: warehouse: warehouse directory " + wh + " does not exist (the source reads the table's files from it; check warehouse)",
		}},
		{"sink: creates the catalog and the warehouse", sdk.KindSink, "sqlite://" + db + "?_pragma=foreign_keys(1)", "file://" + wh, nil},
		{"sink: no directory for the catalog", sdk.KindSink, "sqlite://" + filepath.Join(noDir, "c.db"), "file://" + wh, []string{
			"not_found: catalog_uri: directory " + noDir + " does not exist (the SQLite catalog " + filepath.Join(noDir, "c.db") + " is kept in it; create it or check catalog_uri)",
		}},
		{"rest catalog host", sdk.KindSink, "https://no-such-host.invalid:8181/", "s3://bucket/wh", []string{
			`not_found: catalog_uri: host "no-such-host.invalid"` + notFound,
		}},
		{"postgres catalog host", sdk.KindSource, "postgres://app:s3cret@no-such-host.invalid/db", "s3://bucket/wh", []string{
			`not_found: catalog_uri: host "no-such-host.invalid"` + notFound,
		}},
		{"resolvable hosts", sdk.KindSource, "http://localhost:8181/", "s3://bucket/wh", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := checkWarnings(t, c.kind, c.catalog, c.warehouse); !reflect.DeepEqual(got, c.want) {
				t.Errorf("warnings:\n%q\nwant:\n%q", got, c.want)
			}
		})
	}
	// Once they are there, the source has nothing to warn about.
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(wh, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := checkWarnings(t, sdk.KindSource, "sqlite://"+db, "file://"+wh); got != nil {
		t.Errorf("warnings %q with the catalog and the warehouse there", got)
	}
}

// `adf validate` shows the warnings at the source's place in the flow and
// accepts the flow.
func TestValidateWarnsAboutMissingCatalog(t *testing.T) {
	a := newADF(t)
	db, wh := filepath.Join(a.Work, "catalog.db"), filepath.Join(a.Work, "wh")
	path := a.WriteFlow(t, "ice", fmt.Sprintf(`
name: ice
source: {type: iceberg, config: {catalog_uri: "sqlite://%s", warehouse: "file://%s", table: ns.orders}}
sink: {type: file, config: {path: out.jsonl}}
`, db, wh))
	r := a.Run(t, "validate", path)
	want := "warning: source.config.catalog_uri: no SQLite catalog " + db + " (the source reads the table from it; check catalog_uri)\n" +
		"warning: source.config.warehouse: warehouse directory " + wh + " does not exist (the source reads the table's files from it; check warehouse)\n"
	if r.Code != 0 || r.Stderr != want || r.Stdout != "flow ice is valid (2 warning(s): what they name must be there when it runs)\n" {
		t.Fatalf("want exit 0, on stderr:\n%s\nand the flow valid; got\n%s", want, r)
	}
}

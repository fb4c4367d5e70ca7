package iceberg_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/activedataflow/adf/internal/testkit"
)

// The SQL catalog accepts both spellings of an absolute SQLite path:
// sqlite:///abs/catalog.db (three slashes) and SQLAlchemy's and pyiceberg's
// sqlite:////abs/catalog.db (four). A table written through one spelling is
// the table read through the other.
func TestSQLiteCatalogURISpellings(t *testing.T) {
	w := newWarehouse(t)
	if !strings.HasPrefix(w.db, "/") {
		t.Fatalf("warehouse catalog %q is not an absolute path", w.db)
	}
	in := filepath.Join(w.dir, "orders.csv")
	const n = 1000
	testkit.WriteOrdersCSV(t, in, 1, n)
	a := newADF(t)
	w.uri = "sqlite:///" + w.db // four slashes: the path starts with one
	a.RunFlow(t, "four_slashes", flowDoc(t, csvToIceberg("four_slashes", in, w, "sales.orders", 1)))
	w.uri = "sqlite://" + w.db // three slashes
	out := filepath.Join(w.dir, "out.jsonl")
	sum, _ := a.RunFlow(t, "three_slashes", flowDoc(t, icebergToJSONL("three_slashes", w, "sales.orders", nil, out, 1)))
	if sum.Read != n || sum.Written != n {
		t.Fatalf("read back %d rows, wrote %d, want %d", sum.Read, sum.Written, n)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var row struct {
			ID int `json:"id"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		seen[row.ID]++
	}
	for id := 1; id <= n; id++ {
		if seen[id] != 1 {
			t.Fatalf("id %d read back %d times", id, seen[id])
		}
	}
}

// A catalog that cannot be opened as configured fails the run at once,
// with no restart, saying what to check: a retry cannot create the
// missing directory or turn a text file into a database.
func TestBadCatalogFailsAtOnce(t *testing.T) {
	w := newWarehouse(t)
	in := filepath.Join(w.dir, "orders.csv")
	testkit.WriteOrdersCSV(t, in, 1, 10)
	notDB := filepath.Join(w.dir, "not-a-db.txt")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is not a database\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newADF(t)
	for _, tc := range []struct {
		name, uri, says string
	}{
		{"missing_dir", "sqlite://" + filepath.Join(w.dir, "no", "such", "dir", "catalog.db"), "check catalog_uri: for SQLite, that the catalog file's directory exists"},
		{"not_a_database", "sqlite://" + notDB, "file is not a database"},
		{"no_scheme", filepath.Join(w.dir, "catalog.db"), "not a catalog URI"},
		{"one_slash", "sqlite:" + filepath.Join(w.dir, "catalog.db"), "not a catalog URI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.uri = tc.uri
			f := csvToIceberg(tc.name, in, w, "sales.orders", 1)
			r := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, tc.name, flowDoc(t, f)))
			if r.Code == 0 {
				t.Fatalf("the run succeeded with catalog_uri %q\n%s", tc.uri, r)
			}
			if !strings.Contains(r.Stderr, tc.says) {
				t.Fatalf("the error does not say %q\n%s", tc.says, r)
			}
			if strings.Contains(r.Stderr, "restarting from the last checkpoint") || strings.Contains(r.Stderr, "gave up after") {
				t.Fatalf("a configuration error was retried\n%s", r)
			}
		})
	}
}

package iceberg_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
)

// The independent reader is pyiceberg (the Apache Iceberg Python library),
// reading through its own SQL catalog implementation (SQLAlchemy on
// SQLite) and its own Parquet reader (pyarrow). The test installs it itself
// when missing: a virtual environment in /var/tmp/adf-pyiceberg-venv
// (override with ADF_PYICEBERG_VENV) with pip install
// "pyiceberg[sql-sqlite,pyarrow]" from PyPI. CI needs python3 (with venv)
// and network access to PyPI on the first run; later runs reuse the venv.
const pyicebergPackage = "pyiceberg[sql-sqlite,pyarrow]"

func pyicebergVenv() string {
	if v := os.Getenv("ADF_PYICEBERG_VENV"); v != "" {
		return v
	}
	return "/var/tmp/adf-pyiceberg-venv"
}

// ensurePyIceberg returns the venv's python with pyiceberg importable.
func ensurePyIceberg(t *testing.T) string {
	t.Helper()
	return testkit.PythonVenv(t, pyicebergVenv(), "import pyiceberg.catalog.sql, pyarrow, sqlalchemy", pyicebergPackage)
}

type pyResult struct {
	Catalog string `json:"catalog"`
	Rows    int64  `json:"rows"`
	Schema  []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Required bool   `json:"required"`
	} `json:"schema"`
	Snapshots int               `json:"snapshots"`
	Checksums map[string]string `json:"checksums"`
}

// checkWithPyIceberg reads the table with pyiceberg and compares row count,
// schema and a checksum of every column's values with the input.
func checkWithPyIceberg(t *testing.T, w *warehouse, tbl string, orders []testkit.Order) {
	py := ensurePyIceberg(t)
	start := time.Now()
	cat := w.db // the SQLite catalog's file, or the REST catalog's URI
	if cat == "" {
		cat = w.uri
	}
	cmd := exec.Command(py, filepath.Join("testdata", "pyiceberg_check.py"), cat, w.wh, tbl, "default")
	if w.props != nil {
		props, err := json.Marshal(w.props)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(os.Environ(), "ADF_PYICEBERG_PROPS="+string(props))
	}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("pyiceberg could not read %s: %v\n%s", tbl, err, stderr)
	}
	var res pyResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("pyiceberg output %q: %v", out, err)
	}
	if res.Rows != int64(len(orders)) {
		t.Fatalf("pyiceberg reads %d rows, want %d", res.Rows, len(orders))
	}
	wantSchema := []string{"id long false", "name string false", "amount double false", "ts timestamptz false"}
	if len(res.Schema) != len(wantSchema) {
		t.Fatalf("pyiceberg schema %+v, want %v", res.Schema, wantSchema)
	}
	for i, f := range res.Schema {
		if got := fmt.Sprintf("%s %s %v", f.Name, f.Type, f.Required); got != wantSchema[i] {
			t.Fatalf("pyiceberg schema field %d is %q, want %q", i, got, wantSchema[i])
		}
	}
	cols := map[string][]string{}
	for _, o := range orders {
		a, _ := strconv.ParseFloat(o.Amount, 64)
		cols["id"] = append(cols["id"], strconv.FormatInt(o.ID, 10))
		cols["name"] = append(cols["name"], o.Name)
		cols["amount"] = append(cols["amount"], fmt.Sprintf("%.6f", a))
		cols["ts"] = append(cols["ts"], o.TS.UTC().Format("2006-01-02T15:04:05.000000"))
	}
	for col, vals := range cols {
		if got, want := res.Checksums[col], checksum(vals); got != want {
			t.Fatalf("column %s: pyiceberg checksum %s, want %s", col, got, want)
		}
	}
	t.Logf("pyiceberg (%s) read %d rows, %d snapshots; schema and checksums match (%v)", res.Catalog, res.Rows, res.Snapshots, time.Since(start).Round(time.Millisecond))
}

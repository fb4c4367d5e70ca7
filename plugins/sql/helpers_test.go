package sql_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/sql"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// sqlPlugin is the package of the plugin binary the flows launch.
const sqlPlugin = "plugins/sql/cmd/adf-plugin-sql"

// newADF is a fresh adf installation with the file and sql plugins: flows
// run through the adf binary, as a user runs them.
func newADF(t testing.TB) *testkit.ADF {
	t.Helper()
	return testkit.NewADF(t, testkit.FilePlugin, sqlPlugin)
}

// flowDoc is a flow as a document for `adf run` (JSON is YAML).
func flowDoc(t testing.TB, f *flow.Flow) string {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runFlow runs f once with `adf run`, failing the test unless it
// succeeds, and returns the run's summary.
func runFlow(t testing.TB, a *testkit.ADF, f *flow.Flow) testkit.Summary {
	t.Helper()
	sum, _ := a.RunFlow(t, f.Name, flowDoc(t, f))
	if sum.Status != "success" {
		t.Fatalf("flow %s: %+v", f.Name, sum)
	}
	return sum
}

func component(t testing.TB, kind sdk.Kind) sdk.Component {
	t.Helper()
	for _, c := range sql.Plugin().Components {
		if c.Kind() == kind && c.Type() == "postgres" {
			return c
		}
	}
	t.Fatalf("no postgres %s", kind)
	return sdk.Component{}
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func exec(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// order is one generated row.
type order struct {
	ID     int64
	Name   string
	Cents  int64
	TSUnix int64
}

var names = []string{"alice", "bob", "smith, jr", "zoë", `say "hi"`}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// writeOrders writes rows as CSV (id,name,amount,ts).
func writeOrders(t testing.TB, path string, rows []order) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,name,amount,ts")
	for _, r := range rows {
		sign, c := "", r.Cents
		if c < 0 {
			sign, c = "-", -c
		}
		fmt.Fprintf(w, "%d,%s,%s%d.%02d,%s\n", r.ID, csvField(r.Name), sign, c/100, c%100, time.Unix(r.TSUnix, 0).UTC().Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func genOrders(from, n int64, seed int64) []order {
	out := make([]order, 0, n)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := from; i < from+n; i++ {
		h := uint64(i*2654435761+seed*40503) % 1000003
		out = append(out, order{ID: i, Name: names[h%uint64(len(names))], Cents: int64(h % 1000000), TSUnix: base + i})
	}
	return out
}

// digest is what tableDigest computes in SQL, computed in Go.
type digest struct {
	Count int64
	Sum   int64
	MD5   string
}

func ordersDigest(rows []order) digest {
	h := md5.New()
	var d digest
	for i, r := range rows {
		if i > 0 {
			h.Write([]byte("\n"))
		}
		fmt.Fprintf(h, "%d|%s|%d|%d", r.ID, r.Name, r.Cents, r.TSUnix)
		d.Count++
		d.Sum += r.ID
	}
	d.MD5 = hex.EncodeToString(h.Sum(nil))
	if d.Count == 0 {
		d.MD5 = ""
	}
	return d
}

// tableDigest is count, sum(id) and the md5 of every row in id order.
func tableDigest(t testing.TB, c *pgx.Conn, table string) digest {
	t.Helper()
	var d digest
	var m *string
	err := c.QueryRow(context.Background(), fmt.Sprintf(`SELECT count(*), coalesce(sum(id), 0)::bigint,
		md5(string_agg(id::text || '|' || name || '|' || round(amount * 100)::bigint::text || '|' || extract(epoch FROM ts)::bigint::text, E'\n' ORDER BY id))
		FROM %s`, table)).Scan(&d.Count, &d.Sum, &m)
	if err != nil {
		t.Fatalf("digest of %s: %v", table, err)
	}
	if m != nil {
		d.MD5 = *m
	}
	return d
}

func csvToPostgres(name, in, url, sinkCfg string, parallelism int) *flow.Flow {
	cfg := fmt.Sprintf(`{"url": %q, %s}`, url, sinkCfg)
	return &flow.Flow{
		Name:        name,
		Source:      flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q, "format": "csv", "split_size": 4000000, "batch_size": %d}`, in, fileBatchSize))},
		Parallelism: parallelism,
		Sink:        flow.Component{Type: "postgres", Config: json.RawMessage(cfg)},
	}
}

const ordersDDL = `CREATE TABLE %s (id bigint PRIMARY KEY, name text NOT NULL, amount double precision, ts timestamptz)`

// fileBatchSize is the file source's batch_size in the tests' CSV flows
// (the file plugin's default is 8192); the benchmark uses the defaults.
const fileBatchSize = 32768

package sql_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/sql"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
	"github.com/activedataflow/adf/sdk/sdktest"
)

func TestConfigValidation(t *testing.T) {
	sink := component(t, sdk.KindSink)
	src := component(t, sdk.KindSource)
	cases := []struct {
		name  string
		c     sdk.Component
		cfg   string
		field string
		text  string
	}{
		{"missing url", sink, `{"table": "t"}`, "url", "required"},
		{"table and model", sink, `{"url": "postgres://h/db", "table": "t", "model": "Order"}`, "model", "only one of"},
		{"neither table nor model", sink, `{"url": "postgres://h/db"}`, "table", "set table or model"},
		{"bad mode", sink, `{"url": "postgres://h/db", "table": "t", "mode": "merge"}`, "mode", ""},
		{"upsert without key", sink, `{"url": "postgres://h/db", "table": "t", "mode": "upsert"}`, "key", "needs key"},
		{"insert_ignore without key", sink, `{"url": "postgres://h/db", "table": "t", "mode": "insert_ignore"}`, "key", "needs key"},
		{"unknown key", sink, `{"url": "postgres://h/db", "table": "t", "tabel": "x"}`, "tabel", "unknown"},
		{"bad scheme", sink, `{"url": "mysql://h/db", "table": "t"}`, "url", "scheme"},
		{"bad model", sink, `{"url": "postgres://h/db", "model": "drop table;"}`, "model", "model name"},
		{"source query and table", src, `{"url": "postgres://h/db", "table": "t", "query": "select 1"}`, "query", "only one of"},
		{"source query without split column", src, `{"url": "postgres://h/db", "query": "select 1"}`, "split_column", "split_column"},
		{"source incremental without cursor", src, `{"url": "postgres://h/db", "table": "t", "mode": "incremental"}`, "cursor", "needs cursor"},
		{"source bad duration type", sink, `{"url": "postgres://h/db", "table": "t", "connect_timeout": 5}`, "connect_timeout", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.DecodeConfig([]byte(tc.cfg))
			if err == nil {
				t.Fatalf("config %s accepted", tc.cfg)
			}
			found := false
			for _, e := range sdk.AsErrors(err) {
				if e.Field == tc.field && strings.Contains(e.Error(), tc.text) {
					found = true
				}
			}
			if !found {
				t.Fatalf("error %q does not name field %q with %q", err, tc.field, tc.text)
			}
		})
	}
	for _, ok := range []string{
		`{"url": "postgres://h/db", "table": "t"}`,
		`{"url": "postgres://h/db", "model": "LineItem", "mode": "upsert", "key": ["id"], "connect_timeout": "5s"}`,
	} {
		if _, err := sink.DecodeConfig([]byte(ok)); err != nil {
			t.Errorf("valid config %s refused: %v", ok, err)
		}
	}
}

func TestTableForModel(t *testing.T) {
	for model, want := range map[string]string{
		"Order": "orders", "order": "orders", "LineItem": "line_items", "Person": "people", "Category": "categories",
		"Address": "addresses", "Box": "boxes", "Status": "statuses", "Admin::User": "users", "HTTPRequest": "http_requests",
		"Sheep": "sheep", "Wife": "wives", "Matrix": "matrices", "Datum": "data", "Bus": "buses",
	} {
		if got := sql.TableForModel(model); got != want {
			t.Errorf("TableForModel(%q) = %q, want %q", model, got, want)
		}
	}
}

// An unreachable server, or a database that does not exist, is an error
// that never contains the password.
func TestPasswordNeverInErrors(t *testing.T) {
	base := testkit.PostgresURL(t)
	const secret = "s3cr3t-Pa55"
	withPassword := strings.Replace(base, "postgres@", "postgres:"+secret+"@", 1)
	noDB := strings.Replace(withPassword, "/postgres?", "/no_such_db_adf?", 1)
	unreachable := "postgres://app:" + secret + "@127.0.0.1:1/app?sslmode=disable"
	for name, tc := range map[string]struct{ url, code, says string }{
		"unreachable": {unreachable, sdk.CodeUnavailable, "cannot reach PostgreSQL at 127.0.0.1:1: "},
		"no database": {noDB, sdk.CodeNotFound, "connect to PostgreSQL at "},
	} {
		url := tc.url
		t.Run(name, func(t *testing.T) {
			s, err := component(t, sdk.KindSink).NewSinkFromConfig([]byte(fmt.Sprintf(`{"url": %q, "table": "t", "connect_timeout": "1s"}`, url)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = s.Open(ctx, sdk.SinkInit{Flow: "f", RunID: "r", Reject: func(sdk.Rejected) error { return nil }})
			s.Close(ctx)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", sdk.AsErrors(err)), secret) {
				t.Fatalf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error does not say %q: %v", tc.says, err)
			}
			var se *sdk.Error
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("error is not classified %s: %#v", tc.code, err)
			}
			t.Logf("error: %v", err)
		})
	}
	if got := sql.RedactURL(unreachable); strings.Contains(got, secret) {
		t.Fatalf("RedactURL kept the password: %s", got)
	}
}

func TestSinkConformance(t *testing.T) {
	url := newSinkDatabase(t)
	c := connect(t, url)
	for _, mode := range []string{"append", "upsert"} {
		t.Run(mode, func(t *testing.T) {
			table := "conf_" + mode
			exec(t, c, fmt.Sprintf("CREATE TABLE %s (id bigint PRIMARY KEY, name text)", table))
			sdktest.TestSink(t, component(t, sdk.KindSink), sdktest.SinkOptions{
				Config: []byte(fmt.Sprintf(`{"url": %q, "table": %q, "mode": %q, "key": ["id"]}`, url, table, mode)),
				ReadBack: func(t *testing.T) []string {
					rows, err := c.Query(context.Background(), "SELECT id, name FROM "+table)
					if err != nil {
						t.Fatal(err)
					}
					defer rows.Close()
					var out []string
					for rows.Next() {
						var id int64
						var name string
						if err := rows.Scan(&id, &name); err != nil {
							t.Fatal(err)
						}
						out = append(out, fmt.Sprintf("%d\x1f%s", id, name))
					}
					return out
				},
			})
			// The last checkpoint's marker is committed, and nothing is
			// left prepared.
			var cp int64
			if err := c.QueryRow(context.Background(), `SELECT max(checkpoint_id) FROM adf_sink_commits WHERE flow = 'sdktest' AND target_table = $1`, `"`+table+`"`).Scan(&cp); err != nil || cp != 2 {
				t.Fatalf("adf_sink_commits: checkpoint %d, %v; want 2", cp, err)
			}
			if gids := preparedXacts(t, c); len(gids) > 0 {
				t.Fatalf("prepared transactions left: %v", gids)
			}
		})
	}
}

func TestSourceConformance(t *testing.T) {
	url := testkit.NewDatabase(t)
	c := connect(t, url)
	exec(t, c, `CREATE TABLE items (id integer PRIMARY KEY, name text, price numeric(10,2), tags text[], at timestamptz)`)
	// Gaps in the keys, so ranges are uneven.
	exec(t, c, `INSERT INTO items SELECT i * 3, 'item ' || i, i / 7.0, ARRAY['a', i::text], '2026-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, 5000) i`)
	sdktest.TestSource(t, component(t, sdk.KindSource), sdktest.SourceOptions{
		Config:      []byte(fmt.Sprintf(`{"url": %q, "table": "items", "batch_size": 300}`, url)),
		Parallelism: 3,
		ExpectRows:  5000,
	})
	// Keys spanning all of bigint.
	exec(t, c, `CREATE TABLE wide (id bigint PRIMARY KEY, v text)`)
	exec(t, c, `INSERT INTO wide VALUES (-9223372036854775808, 'min'), (9223372036854775807, 'max'), (0, 'zero')`)
	exec(t, c, `INSERT INTO wide SELECT i * 1000000000000, 'v' || i FROM generate_series(-3000, 3000) i WHERE i <> 0`)
	sdktest.TestSource(t, component(t, sdk.KindSource), sdktest.SourceOptions{
		Config:     []byte(fmt.Sprintf(`{"url": %q, "table": "wide", "batch_size": 100}`, url)),
		ExpectRows: 6003,
	})
	// A composite primary key cannot split reads: the error says to set
	// split_column.
	exec(t, c, `CREATE TABLE tenants_items (tenant text, id integer, PRIMARY KEY (tenant, id))`)
	src, err := component(t, sdk.KindSource).NewSourceFromConfig([]byte(fmt.Sprintf(`{"url": %q, "table": "tenants_items"}`, url)))
	if err != nil {
		t.Fatal(err)
	}
	enum, err := src.CreateEnumerator(enumCtx{})
	if err != nil {
		t.Fatal(err)
	}
	if err := enum.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "split_column") {
		t.Fatalf("Start on a table with a composite key: %v; want an error about split_column", err)
	}
	// A query with a split column.
	sdktest.TestSource(t, component(t, sdk.KindSource), sdktest.SourceOptions{
		Config:     []byte(fmt.Sprintf(`{"url": %q, "query": "SELECT id, name FROM items WHERE id %% 2 = 0", "split_column": "id", "splits": 5, "batch_size": 400}`, url)),
		ExpectRows: 2500,
	})
}

// A type the column cannot take is an error naming the column and both
// types; create_table maps every supported Arrow type and the values
// arrive intact.
func TestTypes(t *testing.T) {
	url := newSinkDatabase(t)
	c := connect(t, url)
	ctx := context.Background()
	mem := memory.DefaultAllocator

	exec(t, c, `CREATE TABLE typed (id bigint, amount integer)`)
	s, err := component(t, sdk.KindSink).NewSinkFromConfig([]byte(fmt.Sprintf(`{"url": %q, "table": "typed"}`, url)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx, sdk.SinkInit{Flow: "types", RunID: "r", Reject: func(sdk.Rejected) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	sb := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "amount", Type: arrow.BinaryTypes.String}}, nil))
	sb.Field(0).(*array.Int64Builder).Append(1)
	sb.Field(1).(*array.StringBuilder).Append("12")
	rec := sb.NewRecordBatch()
	err = s.Write(ctx, rec)
	rec.Release()
	s.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), `column "amount"`) || !strings.Contains(err.Error(), "utf8") || !strings.Contains(err.Error(), "integer") {
		t.Fatalf("type mismatch error = %v; want it to name column amount, utf8 and integer", err)
	}

	// Every supported type, through create_table.
	fields := []arrow.Field{
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 12, Scale: 3}, Nullable: true},
		{Name: "txt", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "tstz", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "ints", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "strs", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "doc", Type: arrow.BinaryTypes.String, Nullable: true},
	}
	exec(t, c, `CREATE TABLE doc_target (i16 smallint, i32 integer, i64 bigint, f32 real, f64 double precision, dec numeric(12,3), txt text, ok boolean,
		day date, ts timestamp, tstz timestamptz, bin bytea, ints bigint[], strs text[], doc jsonb)`)
	for _, target := range []struct{ table, extra string }{{"created", `, "create_table": true`}, {"doc_target", ""}} {
		s, err := component(t, sdk.KindSink).NewSinkFromConfig([]byte(fmt.Sprintf(`{"url": %q, "table": %q%s}`, url, target.table, target.extra)))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Open(ctx, sdk.SinkInit{Flow: "types", RunID: "r2", Reject: func(r sdk.Rejected) error { t.Errorf("rejected %+v", r); return nil }}); err != nil {
			t.Fatal(err)
		}
		b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
		b.Field(0).(*array.Int16Builder).Append(-7)
		b.Field(1).(*array.Int32Builder).Append(123456)
		b.Field(2).(*array.Int64Builder).Append(1 << 40)
		b.Field(3).(*array.Float32Builder).Append(1.5)
		b.Field(4).(*array.Float64Builder).Append(-2.25)
		b.Field(5).(*array.Decimal128Builder).Append(decimal128.FromI64(-1234567)) // -1234.567
		b.Field(6).(*array.StringBuilder).Append("zoë \"quoted\"")
		b.Field(7).(*array.BooleanBuilder).Append(true)
		b.Field(8).(*array.Date32Builder).Append(arrow.Date32FromTime(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)))
		b.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Date(2026, 3, 4, 5, 6, 7, 891000000, time.UTC).UnixMicro()))
		b.Field(10).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC).UnixNano()))
		b.Field(11).(*array.BinaryBuilder).Append([]byte{0, 1, 0xfe})
		lb := b.Field(12).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
		ls := b.Field(13).(*array.ListBuilder)
		ls.Append(true)
		ls.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"a", "b,c"}, nil)
		b.Field(14).(*array.StringBuilder).Append(`{"k": [1, 2]}`)
		for _, f := range b.Fields() {
			f.AppendNull()
		}
		rec := b.NewRecordBatch()
		if err := s.Write(ctx, rec); err != nil {
			t.Fatalf("%s: %v", target.table, err)
		}
		rec.Release()
		res, err := s.Flush(ctx, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.(sdk.Committer).Commit(ctx, sdk.CommitRequest{CheckpointID: 1, Committables: res.Committables, Final: true}); err != nil {
			t.Fatal(err)
		}
		s.Close(ctx)
		var got string
		q := fmt.Sprintf(`SELECT concat_ws(' | ', i16, i32, i64, f32, f64, dec, txt, ok, day, ts, tstz AT TIME ZONE 'UTC', encode(bin, 'hex'), ints::text, strs::text, doc::text) FROM %s WHERE i16 IS NOT NULL`, target.table)
		if err := c.QueryRow(ctx, q).Scan(&got); err != nil {
			t.Fatal(err)
		}
		want := `-7 | 123456 | 1099511627776 | 1.5 | -2.25 | -1234.567 | zoë "quoted" | t | 1999-12-31 | 2026-03-04 05:06:07.891 | 1969-07-20 20:17:40 | 0001fe | {1,2,3} | {a,"b,c"} | {"k": [1, 2]}`
		if got != want {
			t.Errorf("%s row:\n got %s\nwant %s", target.table, got, want)
		}
		var nulls int
		if err := c.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE i16 IS NULL AND txt IS NULL AND ints IS NULL AND tstz IS NULL`, target.table)).Scan(&nulls); err != nil || nulls != 1 {
			t.Errorf("%s: null row count %d, %v", target.table, nulls, err)
		}
	}

	// And back: the source maps PostgreSQL types to Arrow.
	sdktest.TestSource(t, component(t, sdk.KindSource), sdktest.SourceOptions{
		Config:     []byte(fmt.Sprintf(`{"url": %q, "query": "SELECT row_number() over () AS rn, * FROM doc_target", "split_column": "rn"}`, url)),
		ExpectRows: 2,
	})
}

func TestMillionRowsAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	url := testkit.NewDatabase(t)
	c := connect(t, url)
	in := filepath.Join(dir, "orders.csv")
	rows := genOrders(1, 1_000_000, 1)
	writeOrders(t, in, rows)
	a := newADF(t)
	start := time.Now()
	sum := runFlow(t, a, csvToPostgres("million", in, url, `"table": "orders", "create_table": true`, 4))
	t.Logf("1M rows CSV -> PostgreSQL append in %v (%+v)", time.Since(start), sum)
	if sum.Written != 1_000_000 || sum.Rejected != 0 {
		t.Fatalf("summary %+v, want 1e6 written", sum)
	}
	if got, want := tableDigest(t, c, "orders"), ordersDigest(rows); got != want {
		t.Fatalf("table digest %+v, want %+v", got, want)
	}
}

func TestUpsertTwice(t *testing.T) {
	dir := t.TempDir()
	url := testkit.NewDatabase(t)
	c := connect(t, url)
	exec(t, c, fmt.Sprintf(ordersDDL, "orders"))
	a := newADF(t)
	first := genOrders(1, 100_000, 1)
	in1 := filepath.Join(dir, "a.csv")
	writeOrders(t, in1, first)
	// The second file: every tenth row changed, 20k new rows, and the
	// rest identical.
	second := genOrders(1, 120_000, 1)
	for i := range second {
		if i%10 == 0 {
			second[i].Name, second[i].Cents = "changed", second[i].Cents+1
		}
	}
	in2 := filepath.Join(dir, "b.csv")
	writeOrders(t, in2, second)
	for _, in := range []string{in1, in2, in2} {
		runFlow(t, a, csvToPostgres("upsert", in, url, `"table": "orders", "mode": "upsert", "key": ["id"]`, 3))
	}
	if got, want := tableDigest(t, c, "orders"), ordersDigest(second); got != want {
		t.Fatalf("after upserting twice: %+v, want %+v", got, want)
	}
	// insert_ignore keeps what is there and adds what is not.
	third := genOrders(100_001, 30_000, 9)
	in3 := filepath.Join(dir, "c.csv")
	writeOrders(t, in3, third)
	runFlow(t, a, csvToPostgres("ignore", in3, url, `"model": "Order", "mode": "insert_ignore", "key": ["id"]`, 2))
	want := append(append([]order{}, second...), third[20_000:]...)
	if got, w := tableDigest(t, c, "orders"), ordersDigest(want); got != w {
		t.Fatalf("after insert_ignore: %+v, want %+v", got, w)
	}
}

// Rows that violate a constraint are rejected with PostgreSQL's error into
// the dead letter; the rest are written. In append mode COPY names the bad
// row; in upsert mode the merge does not, and the rows are found by halving.
func TestRejectedRowsDeadLetter(t *testing.T) {
	dir := t.TempDir()
	url := testkit.NewDatabase(t)
	c := connect(t, url)
	a := newADF(t)
	for _, mode := range []string{"append", "upsert"} {
		t.Run(mode, func(t *testing.T) {
			table := "orders_" + mode
			exec(t, c, fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, name text NOT NULL, amount double precision, ts timestamptz UNIQUE,
				CONSTRAINT id_check CHECK (id %% 1000 <> 7), CONSTRAINT amount_check CHECK (amount >= 0))`, table))
			rows := genOrders(1, 50_000, 3)
			var good []order
			bad := map[int64]string{}
			for i := range rows {
				switch {
				case rows[i].ID%1000 == 7:
					bad[rows[i].ID] = "id_check"
				case i%997 == 0:
					rows[i].Cents = -rows[i].Cents - 100
					bad[rows[i].ID] = "amount_check"
				default:
					good = append(good, rows[i])
				}
			}
			// A row whose key is already there (written outside the flow):
			// append rejects it, upsert updates it. And a row whose ts is
			// taken by another key (in upsert mode the merge fails, and
			// the bad row is found by halving).
			exec(t, c, fmt.Sprintf(`INSERT INTO %s VALUES (2, 'preexisting', 1, now())`, table))
			exec(t, c, fmt.Sprintf(`INSERT INTO %s VALUES (900000, 'ts taken', 1, to_timestamp($1))`, table), rows[4].TSUnix)
			bad[rows[4].ID] = table + "_ts_key"
			good = slices.DeleteFunc(good, func(o order) bool { return o.ID == rows[4].ID })
			kept := good
			if mode == "append" {
				bad[2] = table + "_pkey"
				kept = nil
				for _, r := range good {
					if r.ID != 2 {
						kept = append(kept, r)
					}
				}
			}
			in := filepath.Join(dir, mode+".csv")
			writeOrders(t, in, rows)
			dl := filepath.Join(dir, mode+"-dead.jsonl")
			f := csvToPostgres("rejects-"+mode, in, url, fmt.Sprintf(`"table": %q, "mode": %q, "key": ["id"]`, table, mode), 2)
			f.OnError = flow.OnErrorDeadLetter
			f.DeadLetter = &flow.DeadLetter{Path: dl}
			sum := runFlow(t, a, f)
			if sum.Rejected != int64(len(bad)) || sum.Written != int64(len(kept)) {
				t.Fatalf("summary %+v, want %d written and %d rejected", sum, len(kept), len(bad))
			}
			where := table + " WHERE id <> 900000"
			if mode == "append" {
				where += " AND id <> 2"
			}
			if got, want := tableDigest(t, c, where), ordersDigest(kept); got != want {
				t.Fatalf("table digest %+v, want %+v", got, want)
			}
			fh, err := os.Open(dl)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			seen := map[int64]bool{}
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				var e struct {
					Stage, Position, Reason, Record string
				}
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatal(err)
				}
				var row struct{ ID int64 }
				if err := json.Unmarshal([]byte(e.Record), &row); err != nil {
					t.Fatalf("record %q is not the row as JSON: %v", e.Record, err)
				}
				want, ok := bad[row.ID]
				if !ok {
					t.Fatalf("good row %d in the dead letter: %s", row.ID, sc.Text())
				}
				if !strings.Contains(e.Reason, want) || !strings.Contains(e.Reason, "SQLSTATE 23") {
					t.Fatalf("row %d rejected with %q, want PostgreSQL's error about %s", row.ID, e.Reason, want)
				}
				seen[row.ID] = true
			}
			if len(seen) != len(bad) {
				t.Fatalf("dead letter has %d rows, want %d", len(seen), len(bad))
			}
		})
	}
}

// PostgreSQL restarts mid-run, while the sink has a checkpoint's
// transaction open: the attempt fails as transient, adf restarts it from
// the last checkpoint (again, with backoff, until the server is back) and
// the upserted table is exact. The flows run through the adf
// binary; its debug log says when a checkpoint was saved.
func TestPostgresRestartMidRun(t *testing.T) {
	dir := t.TempDir()
	priv := testkit.NewPrivate(t, "sqlplugin-restart", 41)
	url := priv.PostgresURL()
	c0 := connect(t, url)
	exec(t, c0, "DROP TABLE IF EXISTS orders")
	// A prepared transaction an earlier, interrupted run of this test left
	// on the private server would hold locks on orders.
	for _, gid := range preparedXacts(t, c0) {
		exec(t, c0, "ROLLBACK PREPARED '"+gid+"'")
	}
	exec(t, c0, "DROP TABLE IF EXISTS adf_sink_commits")
	exec(t, c0, fmt.Sprintf(ordersDDL, "orders"))
	c0.Close(context.Background())
	a := newADF(t)
	a.Env = append(a.Env, "ADF_LOG_LEVEL=debug")
	rows := genOrders(1, 400_000, 5)
	in := filepath.Join(dir, "in.csv")
	writeOrders(t, in, rows)
	f := csvToPostgres("restart", in, url, `"table": "orders", "mode": "upsert", "key": ["id"]`, 2)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(150 * time.Millisecond)}
	restarts := 20
	f.MaxRestarts = &restarts
	p := a.Start(t, "run", "--progress", "none", a.WriteFlow(t, f.Name, flowDoc(t, f)))
	// After the first checkpoint, once the sink has a later checkpoint's
	// transaction open (one that has written: it has an xid; not the short
	// COMMIT PREPARED of the previous checkpoint, which the next part
	// covers), stop the server; start it again a second later.
	testkit.WaitFor(t, time.Minute, "a checkpoint before the end of the run (PostgreSQL was never stopped)",
		func() bool { return checkpointsSaved(p.Stderr()) > 0 }, p.Stderr)
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		pc, err := pgx.Connect(ctx, url)
		if err != nil {
			return
		}
		defer pc.Close(context.Background())
		for ctx.Err() == nil {
			var open int
			_ = pc.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
				AND xact_start IS NOT NULL AND backend_xid IS NOT NULL AND query NOT ILIKE '%PREPARED%' AND pid <> pg_backend_pid()`).Scan(&open)
			if open > 0 {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	priv.StopPostgres()
	time.Sleep(time.Second)
	priv.StartPostgres()
	res := p.Wait(t, 5*time.Minute)
	if res.Code != 0 {
		t.Fatalf("adf run failed\n%s", res)
	}
	sum := res.Summary(t)
	t.Logf("summary %+v", sum)
	if sum.Restarts == 0 {
		t.Fatalf("the run was not restarted: summary %+v", sum)
	}
	c := connect(t, url)
	if got, want := tableDigest(t, c, "orders"), ordersDigest(rows); got != want {
		t.Fatalf("table digest %+v, want %+v", got, want)
	}
	c.Close(context.Background())

	// An outage between checkpoints (no transaction open: adf is stopped
	// with SIGSTOP as soon as its log says a checkpoint was saved, and
	// readers wait for the checkpoint): the sink's COMMIT PREPARED or the
	// next transaction's begin fails as unavailable, the host restarts the
	// attempt from the checkpoint (its one retry policy; the plugin does not
	// retry on its own), the restored checkpoint is committed again, and the
	// table is exact with no prepared transaction left.
	rows2 := genOrders(1, 400_000, 6)
	in2 := filepath.Join(dir, "in2.csv")
	writeOrders(t, in2, rows2)
	f2 := csvToPostgres("restart", in2, url, `"table": "orders", "mode": "upsert", "key": ["id"]`, 2)
	f2.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(50 * time.Millisecond)}
	f2.MaxRestarts = &restarts
	// Such a moment may not come before a run ends: then the run goes
	// again (its upserts leave the same table), up to 5 times.
	flowFile := a.WriteFlow(t, f2.Name, flowDoc(t, f2))
	stopped := false
	for run := 1; run <= 5 && !stopped; run++ {
		p = a.Start(t, "run", "--progress", "none", "--fresh", flowFile)
		for seen, tries := 0, 1; ; tries++ {
			deadline := time.Now().Add(time.Minute)
			for checkpointsSaved(p.Stderr()) <= seen && syscall.Kill(p.Pid(), 0) == nil && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if checkpointsSaved(p.Stderr()) <= seen {
				t.Logf("run %d ended after %d checkpoints without a moment with no transaction open", run, seen)
				if res := p.Wait(t, time.Minute); res.Code != 0 {
					t.Fatalf("adf run failed\n%s", res)
				}
				break
			}
			seen = checkpointsSaved(p.Stderr())
			if err := p.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			// The host may have told the sink to commit, and even let the
			// readers go on, before it stopped: the outage must find no
			// transaction open other than COMMIT PREPARED, twice 50 ms apart
			// (nothing more can reach the sink while adf is stopped); else
			// try the next checkpoint.
			if noTransactionOpen(t, url) {
				t.Logf("PostgreSQL stopped after checkpoint %d (run %d, try %d), adf stopped meanwhile", seen, run, tries)
				priv.StopPostgres()
				if err := p.Signal(syscall.SIGCONT); err != nil {
					t.Fatal(err)
				}
				stopped = true
				break
			}
			if err := p.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !stopped {
		t.Fatal("5 runs ended without a checkpoint with no transaction open")
	}
	time.Sleep(time.Second)
	priv.StartPostgres()
	res = p.Wait(t, 5*time.Minute)
	if res.Code != 0 {
		t.Fatalf("adf run failed\n%s", res)
	}
	sum = res.Summary(t)
	t.Logf("summary %+v", sum)
	if sum.Restarts == 0 || sum.Checkpoints < 2 {
		t.Fatalf("summary %+v: want a restart and at least 2 checkpoints", sum)
	}
	c = connect(t, url)
	if got, want := tableDigest(t, c, "orders"), ordersDigest(rows2); got != want {
		t.Fatalf("table digest %+v, want %+v", got, want)
	}
	if gids := preparedXacts(t, c); len(gids) > 0 {
		t.Fatalf("prepared transactions left after the runs: %v", gids)
	}
}

var checkpointSavedRE = regexp.MustCompile(`checkpoint saved: .* final=false`)

// checkpointsSaved counts the non-final checkpoints an adf debug log says
// were saved.
func checkpointsSaved(log string) int { return len(checkpointSavedRE.FindAllStringIndex(log, -1)) }

// noTransactionOpen reports whether no session of url's database (but
// COMMIT PREPARED) has a transaction open, checked twice 50 ms apart.
func noTransactionOpen(t testing.TB, url string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer pc.Close(context.Background())
	for i := 0; i < 2; i++ {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		var open int
		if err := pc.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND xact_start IS NOT NULL AND query NOT ILIKE '%PREPARED%' AND pid <> pg_backend_pid()`).Scan(&open); err != nil {
			t.Fatalf("pg_stat_activity: %v", err)
		}
		if open > 0 {
			return false
		}
	}
	return true
}

// The incremental source reads, in a second run, only the rows added or
// updated since the first.
func TestIncrementalTwoRuns(t *testing.T) {
	dir := t.TempDir()
	url := testkit.NewDatabase(t)
	c := connect(t, url)
	exec(t, c, `CREATE TABLE events (id bigserial PRIMARY KEY, payload text, updated_at timestamptz NOT NULL)`)
	exec(t, c, `INSERT INTO events (payload, updated_at) SELECT 'e' || i, '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, 3000) i`)
	a := newADF(t)
	run := func(n int) []string {
		out := filepath.Join(dir, fmt.Sprintf("out-%d.jsonl", n))
		f := &flow.Flow{
			Name:        "incremental",
			Source:      flow.Component{Type: "postgres", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "table": "events", "cursor": "updated_at", "batch_size": 250}`, url))},
			Parallelism: 3,
			Sink:        flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
		}
		runFlow(t, a, f)
		data, err := os.ReadFile(out)
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if line == "" {
				continue
			}
			var e struct {
				Payload string `json:"payload"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			got = append(got, e.Payload)
		}
		sort.Strings(got)
		return got
	}
	if got := run(1); len(got) != 3000 {
		t.Fatalf("first run read %d rows, want 3000", len(got))
	}
	// New rows and one updated row.
	exec(t, c, `INSERT INTO events (payload, updated_at) SELECT 'new' || i, '2026-02-01'::timestamptz + i * interval '1 second' FROM generate_series(1, 500) i`)
	exec(t, c, `UPDATE events SET payload = 'updated', updated_at = '2026-03-01' WHERE id = 10`)
	got := run(2)
	if len(got) != 501 || got[len(got)-1] != "updated" || got[0] != "new1" {
		t.Fatalf("second run read %d rows (first %v), want the 500 new rows and the updated one", len(got), first(got))
	}
	if got := run(3); len(got) != 0 {
		t.Fatalf("third run read %d rows, want none", len(got))
	}
	var pos string
	if err := c.QueryRow(context.Background(), `SELECT position FROM adf_source_cursors WHERE name = 'events:updated_at'`).Scan(&pos); err != nil || !strings.HasPrefix(pos, "2026-03-01") {
		t.Fatalf("high-water mark %q, %v", pos, err)
	}

	// cursor: id, which is also the split column; into PostgreSQL.
	exec(t, c, `CREATE TABLE logs (id bigint PRIMARY KEY, name text NOT NULL, amount double precision, ts timestamptz)`)
	exec(t, c, fmt.Sprintf(ordersDDL, "logs_copy"))
	exec(t, c, `INSERT INTO logs SELECT i, 'n' || i, i, now() FROM generate_series(1, 2000) i`)
	copyLogs := func() int64 {
		f := &flow.Flow{
			Name:        "logs",
			Source:      flow.Component{Type: "postgres", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "table": "logs", "cursor": "id", "cursor_name": "logs-copy", "splits": 3}`, url))},
			Parallelism: 2,
			Sink:        flow.Component{Type: "postgres", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "table": "logs_copy"}`, url))},
		}
		return runFlow(t, a, f).Read
	}
	if n := copyLogs(); n != 2000 {
		t.Fatalf("first run read %d rows, want 2000", n)
	}
	exec(t, c, `INSERT INTO logs SELECT i, 'n' || i, i, now() FROM generate_series(2001, 2700) i`)
	if n := copyLogs(); n != 700 {
		t.Fatalf("second run read %d rows, want 700", n)
	}
	if got, want := tableDigest(t, c, "logs_copy"), tableDigest(t, c, "logs"); got != want || got.Count != 2700 {
		t.Fatalf("copy %+v, want %+v", got, want)
	}
}

func first(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

// 1M rows read by 4 readers (16 key-range splits) into another table.
func TestSourceMillionRowsFourReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	url := testkit.NewDatabase(t)
	c := connect(t, url)
	exec(t, c, fmt.Sprintf(ordersDDL, "src"))
	exec(t, c, `INSERT INTO src SELECT i, (ARRAY['alice','bob','smith, jr','zoë','say "hi"'])[1 + i % 5], (i % 100000) / 100.0,
		'2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, 1000000) i`)
	exec(t, c, fmt.Sprintf(ordersDDL, "dst"))
	f := &flow.Flow{
		Name:        "pg-to-pg",
		Source:      flow.Component{Type: "postgres", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "table": "src", "batch_size": 20000}`, url))},
		Parallelism: 4,
		Sink:        flow.Component{Type: "postgres", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "table": "dst"}`, url))},
	}
	start := time.Now()
	sum := runFlow(t, newADF(t), f)
	t.Logf("1M rows PostgreSQL -> PostgreSQL with 4 readers in %v (%+v)", time.Since(start), sum)
	if sum.Read != 1_000_000 {
		t.Fatalf("read %d rows, want 1e6", sum.Read)
	}
	want, got := tableDigest(t, c, "src"), tableDigest(t, c, "dst")
	if want.Count != 1_000_000 || got != want {
		t.Fatalf("dst digest %+v, want %+v", got, want)
	}
}

// enumCtx is a SplitEnumeratorContext for calling Start directly.
type enumCtx struct{}

func (enumCtx) AssignSplit(sdk.Split, int) error                            { return nil }
func (enumCtx) AssignSplits(map[int][]sdk.Split) error                      { return nil }
func (enumCtx) SignalNoMoreSplits(int) error                                { return nil }
func (enumCtx) RegisteredReaders() []int                                    { return nil }
func (enumCtx) Parallelism() int                                            { return 1 }
func (enumCtx) CallPeriodically(time.Duration, func(context.Context) error) {}

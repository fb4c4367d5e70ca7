package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// restartPoint is a moment of the sink's work, told from pg_stat_activity,
// at which the restart test restarts PostgreSQL.
type restartPoint struct {
	name string
	// where selects the sessions of the flow (pg_stat_activity) in that
	// state.
	where string
}

var (
	// A COPY of a load is running.
	duringCopy = restartPoint{"COPY", `state = 'active' AND query ILIKE 'COPY %'`}
	// A checkpoint's PREPARE TRANSACTION or COMMIT PREPARED is running, or
	// was the session's last statement (the prepared transaction waits for
	// its commit, or the next transaction has not begun).
	duringTwoPhase = restartPoint{"PREPARE/COMMIT PREPARED", `query ~* '(PREPARE TRANSACTION|COMMIT PREPARED)'`}
)

// attemptFailedRE is the host's log line of a failed attempt it restarts.
var attemptFailedRE = regexp.MustCompile(`attempt failed; restarting from the last checkpoint: .*`)

// pgCauseRE is what the error of an attempt failed by a PostgreSQL
// restart must name: the server's SQLSTATE (57P01 admin_shutdown and its
// kin, class 08) or the connection's fate.
var pgCauseRE = regexp.MustCompile(`SQLSTATE (57P0[123]|08\d\d\d)|connection refused|connection reset|broken pipe|unexpected EOF|conn closed|closed network connection|server closed`)

// waitForSession waits until a session of url's database is at point,
// reporting false when done closes (the run ended) or after timeout.
func waitForSession(t testing.TB, url string, point restartPoint, done func() bool, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && !done() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pc, err := pgx.Connect(ctx, url)
		if err != nil {
			cancel()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for ctx.Err() == nil {
			var n int
			if err := pc.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND `+point.where).Scan(&n); err != nil {
				break
			}
			if n > 0 {
				pc.Close(context.Background())
				cancel()
				return true
			}
			if done() {
				break
			}
			time.Sleep(time.Millisecond)
		}
		pc.Close(context.Background())
		cancel()
	}
	return false
}

// hostLosesStreamErrors: the host (host/engine) may report a plugin's
// error event as "plugin ended the stream unexpectedly": the SDK sends the
// diagnostic and ends the stream, and a send of the host that then gets
// io.EOF fails the attempt with that text before the host's receiving
// goroutine has read the diagnostic (the first cause wins). The plugin
// does report PostgreSQL's cause; while the host has this race, the test
// accepts exactly that text (and no other) in place of the cause. Set it
// to false once the host reads the stream's last event on a send's io.EOF.
const hostLosesStreamErrors = false

// streamEndRE is the host's text for a stream that ended with no error
// event.
var streamEndRE = regexp.MustCompile(`error="[^"]*: plugin ended the stream unexpectedly"`)

// restartRun runs flow f with adf, restarting the private PostgreSQL at
// each of points while the run goes on, and checks from adf's debug log
// that every failed attempt reported PostgreSQL's cause (not a plugin
// that died or a stream that just ended) and that the run succeeded
// after restarts.
func restartRun(t *testing.T, a *testkit.ADF, priv *testkit.Private, f *flow.Flow, points []restartPoint) testkit.Summary {
	t.Helper()
	url := priv.PostgresURL()
	maxRestarts := 20
	f.MaxRestarts = &maxRestarts
	p := a.Start(t, "run", "--progress", "none", "--fresh", a.WriteFlow(t, f.Name, flowDoc(t, f)))
	// The adf process is gone (Start's goroutine reaps it).
	done := func() bool { return syscall.Kill(p.Pid(), 0) != nil }
	restarted := 0
	for _, pt := range points {
		if !waitForSession(t, url, pt, done, time.Minute) {
			break
		}
		t.Logf("restarting PostgreSQL during %s", pt.name)
		priv.RestartPostgres()
		restarted++
		// Let the restarted attempt get going again.
		time.Sleep(300 * time.Millisecond)
	}
	res := p.Wait(t, 5*time.Minute)
	log := res.Stderr
	failures := attemptFailedRE.FindAllString(log, -1)
	if res.Code != 0 {
		t.Fatalf("adf run failed\n%s", res)
	}
	sum := res.Summary(t)
	t.Logf("summary %+v after %d restarts of PostgreSQL", sum, restarted)
	if restarted < 2 {
		t.Fatalf("PostgreSQL was restarted only %d times before the run ended", restarted)
	}
	if len(failures) == 0 || sum.Restarts == 0 {
		t.Fatalf("no attempt failed (summary %+v)", sum)
	}
	causes := 0
	for _, l := range failures {
		t.Logf("failed attempt: %s", l)
		switch {
		case pgCauseRE.MatchString(l) && !strings.Contains(l, "plugin process failed"):
			causes++
		case hostLosesStreamErrors && streamEndRE.MatchString(l):
			t.Logf("(the host lost the plugin's error event: see hostLosesStreamErrors)")
		default:
			t.Errorf("an attempt failed without PostgreSQL's cause: %s", l)
		}
	}
	if causes == 0 && !hostLosesStreamErrors {
		t.Errorf("no failed attempt reported PostgreSQL's cause")
	}
	// A plugin that died (a panic, an exit) is reported by the host as a
	// failed plugin process; one the host ends after a failed attempt is
	// killed without that.
	for _, bad := range []string{"panic", "plugin process failed", "exit status"} {
		if strings.Contains(log, bad) {
			t.Errorf("adf's log says %q: a plugin died\n%s", bad, log)
		}
	}
	return sum
}

// PostgreSQL restarted (fast shutdown: open sessions get 57P01
// admin_shutdown) several times while the sink writes, at different points
// of its work: every failed attempt reports PostgreSQL's cause as a
// structured error (never a plugin whose stream or process ended), adf
// restarts it from the last checkpoint, and the table ends exact, with no
// prepared transaction left. The same for the source's range reads.
func TestPostgresRestartErrors(t *testing.T) {
	priv := testkit.NewPrivate(t, "sqlplugin-restart", 41)
	url := priv.PostgresURL()
	a := newADF(t)
	a.Env = append(a.Env, "ADF_LOG_LEVEL=debug")
	rows := genOrders(1, 1_000_000, 7)
	in := filepath.Join(t.TempDir(), "in.csv")
	writeOrders(t, in, rows)
	want := ordersDigest(rows)
	reset := func(t *testing.T, ddl string) {
		c0 := connect(t, url)
		for _, gid := range preparedXacts(t, c0) {
			exec(t, c0, "ROLLBACK PREPARED '"+gid+"'")
		}
		exec(t, c0, "DROP TABLE IF EXISTS orders")
		exec(t, c0, "DROP TABLE IF EXISTS adf_sink_commits")
		exec(t, c0, ddl)
		c0.Close(context.Background())
	}
	for _, mode := range []struct{ name, cfg, ddl string }{
		// No key: a row written twice would count.
		{"append", `"table": "orders", "mode": "append"`, `CREATE TABLE orders (id bigint NOT NULL, name text NOT NULL, amount double precision, ts timestamptz)`},
		{"upsert", `"table": "orders", "mode": "upsert", "key": ["id"]`, fmt.Sprintf(ordersDDL, "orders")},
	} {
		t.Run(mode.name, func(t *testing.T) {
			reset(t, mode.ddl)
			f := csvToPostgres("restart_"+mode.name, in, url, mode.cfg, 2)
			f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(150 * time.Millisecond)}
			restartRun(t, a, priv, f, []restartPoint{duringCopy, duringTwoPhase, duringCopy, duringTwoPhase})
			c := connect(t, url)
			var got struct{ count, sum, distinct int64 }
			if err := c.QueryRow(context.Background(), `SELECT count(*), coalesce(sum(id), 0)::bigint, count(DISTINCT id) FROM orders`).Scan(&got.count, &got.sum, &got.distinct); err != nil {
				t.Fatal(err)
			}
			if got.count != want.Count || got.sum != want.Sum || got.distinct != want.Count {
				t.Fatalf("table: %d rows, sum(id) %d, %d distinct ids; want %d rows, sum %d", got.count, got.sum, got.distinct, want.Count, want.Sum)
			}
			if d := tableDigest(t, c, "orders"); d != want {
				t.Fatalf("table digest %+v, want %+v", d, want)
			}
			if gids := preparedXacts(t, c); len(gids) > 0 {
				t.Fatalf("prepared transactions left: %v", gids)
			}
		})
	}
	// The source: key-range splits read by keyset pages, PostgreSQL
	// restarted between and during them; the file sink's output holds
	// every row once.
	t.Run("source", func(t *testing.T) {
		const n = 1_000_000
		reset(t, `CREATE TABLE orders (id bigint PRIMARY KEY, name text NOT NULL, amount double precision, ts timestamptz)`)
		c := connect(t, url)
		exec(t, c, fmt.Sprintf(`INSERT INTO orders SELECT i, 'n' || i, i / 100.0, '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, %d) i`, n))
		c.Close(context.Background())
		out := filepath.Join(t.TempDir(), "out.jsonl")
		f := &flow.Flow{
			Name:        "restart_source",
			Source:      flow.Component{Type: "postgres", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "table": "orders", "batch_size": 2000, "splits": 16}`, url))},
			Parallelism: 2,
			Sink:        flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
			Checkpoint:  &flow.Checkpoint{Every: sdk.Duration(150 * time.Millisecond)},
		}
		rangeRead := restartPoint{"a range read", `query ILIKE 'SELECT * FROM %'`}
		restartRun(t, a, priv, f, []restartPoint{rangeRead, rangeRead, rangeRead})
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		seen := make(map[int64]bool, n)
		var count, sum int64
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var r struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("output line %q: %v", line, err)
			}
			count++
			sum += r.ID
			seen[r.ID] = true
		}
		if count != n || sum != n*(n+1)/2 || len(seen) != n {
			t.Fatalf("output: %d rows, sum(id) %d, %d distinct ids; want %d rows, sum %d", count, sum, len(seen), n, n*(n+1)/2)
		}
	})
}

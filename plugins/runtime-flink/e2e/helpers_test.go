// Package e2e runs flows on a real Apache Flink cluster (scripts/flink-local.sh)
// through the adf binary, with the bundled plugins, and checks their output
// with independent clients (pgx, go-redis, the files themselves).
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activedataflow/adf/internal/testkit"
)

const (
	flinkPlugin   = "plugins/runtime-flink/cmd/adf-plugin-runtime-flink"
	sqlPlugin     = "plugins/sql/cmd/adf-plugin-sql"
	rafkaPlugin   = "plugins/rafka/cmd/adf-plugin-rafka"
	transformsPkg = "host/cmd/adf-transforms"
)

// newADF is an adf installation with the file, sql, rafka and flink
// plugins, and adf-transforms beside adf (where the host looks for it). The
// test holds the test cluster to itself: some tests kill its TaskManager.
func newADF(t *testing.T) *testkit.ADF {
	t.Helper()
	testkit.LockFlink(t, true)
	testkit.Build(t, transformsPkg)
	return testkit.NewADF(t, testkit.FilePlugin, sqlPlugin, rafkaPlugin, flinkPlugin)
}

// flinkRuntime is the flow's runtime key for the test cluster; the plugin
// finds the bridge jar beside itself, as in an installation.
func flinkRuntime(t *testing.T) string {
	t.Helper()
	testkit.BridgeJar(t)
	return fmt.Sprintf(`{"type": "flink", "config": {"url": %q}}`, testkit.FlinkURL(t))
}

// flinkJob is one job of Flink's /jobs/overview.
type flinkJob struct {
	ID    string `json:"jid"`
	Name  string `json:"name"`
	State string `json:"state"`
}

// flinkGet decodes GET {flink}{path}.
func flinkGet(t *testing.T, path string, out any) {
	t.Helper()
	if err := flinkTryGet(t, path, out); err != nil {
		t.Fatal(err)
	}
}

// flinkTryGet decodes GET {flink}{path}, or says why it could not.
func flinkTryGet(t *testing.T, path string, out any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", testkit.FlinkURL(t)+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// flinkJobs lists the cluster's jobs.
func flinkJobs(t *testing.T) []flinkJob {
	t.Helper()
	var ov struct {
		Jobs []flinkJob `json:"jobs"`
	}
	flinkGet(t, "/jobs/overview", &ov)
	return ov.Jobs
}

// jobIDs is the set of the cluster's jobs now.
func jobIDs(t *testing.T) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, j := range flinkJobs(t) {
		ids[j.ID] = true
	}
	return ids
}

// jobOfFlow finds the Flink job of a flow's run (the bridge names jobs
// "adf: <flow> run <id>") that is not among old, waiting up to timeout for
// it to appear.
func jobOfFlow(t *testing.T, flow string, old map[string]bool, timeout time.Duration) flinkJob {
	t.Helper()
	var job flinkJob
	testkit.WaitFor(t, timeout, "the Flink job of flow "+flow, func() bool {
		for _, j := range flinkJobs(t) {
			if strings.HasPrefix(j.Name, "adf: "+flow+" run ") && !old[j.ID] {
				job = j
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprint(flinkJobs(t)) })
	return job
}

// completedCheckpoints is the number of checkpoints Flink completed for a
// job; 0 while Flink cannot say yet (the job is still being scheduled).
func completedCheckpoints(t *testing.T, jobID string) int {
	t.Helper()
	var cp struct {
		Counts struct {
			Completed int `json:"completed"`
		} `json:"counts"`
	}
	if err := flinkTryGet(t, "/jobs/"+jobID+"/checkpoints", &cp); err != nil {
		return 0
	}
	return cp.Counts.Completed
}

// jobState is a job's state (RUNNING, FINISHED, CANCELED, ...).
func jobState(t *testing.T, jobID string) string {
	t.Helper()
	var j struct {
		State string `json:"state"`
	}
	flinkGet(t, "/jobs/"+jobID, &j)
	return j.State
}

// pg connects to url and closes the connection at the end of the test.
func pg(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// count runs a count(*) query.
func count(t *testing.T, c *pgx.Conn, q string) int64 {
	t.Helper()
	var n int64
	if err := c.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// tableRows reads a table of orders (id, name or customer, amount, ts) in
// canonical form, ordered by id.
func tableRows(t *testing.T, c *pgx.Conn, table, nameCol string) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), fmt.Sprintf(`SELECT id, %s, amount, ts FROM %s ORDER BY id`, nameCol, table))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var name string
		var amount float64
		var ts time.Time
		if err := rows.Scan(&id, &name, &amount, &ts); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d|%s|%.2f|%s", id, name, amount, ts.UTC().Format(time.RFC3339)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameRows fails unless got and want hold the same rows in the same order,
// naming the first difference.
func sameRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: row %d is %q, want %q", what, i, got[i], want[i])
		}
	}
}

// jsonlIDs reads the "id" of every line of a JSON-lines file, sorted.
func jsonlIDs(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row struct {
			ID   *int64 `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		if row.ID == nil || row.Name != fmt.Sprintf("n%d", *row.ID) {
			t.Fatalf("output line %q lacks its id or has the wrong name", sc.Text())
		}
		ids = append(ids, *row.ID)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// exactlyIDs fails unless ids are 0..n-1, each once.
func exactlyIDs(t *testing.T, ids []int64, n int) {
	t.Helper()
	if len(ids) != n {
		t.Fatalf("output has %d rows, want %d", len(ids), n)
	}
	for i, id := range ids {
		if id != int64(i) {
			t.Fatalf("sorted output row %d has id %d: rows lost or repeated", i, id)
		}
	}
}

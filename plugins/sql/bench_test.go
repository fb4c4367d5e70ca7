package sql_test

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/internal/testkit"
)

// BenchmarkCSVToPostgres loads the same 1M-row CSV file into two identical
// tables in the same run: through the flow (file source -> postgres sink,
// append, binary COPY) and with `psql \copy`, and reports both rates and
// their ratio (adf / psql; the goal is at least 0.9).
func BenchmarkCSVToPostgres(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	url := testkit.NewDatabase(b)
	c := connect(b, url)
	in := filepath.Join(dir, "orders.csv")
	writeOrders(b, in, genOrders(1, n, 1))
	reg := newRegistry(b)
	eng := engine.New(engine.Options{Registry: reg, DataDir: dir})
	const ddl = `CREATE TABLE %s (id bigint, name text, amount double precision, ts timestamptz)`
	var adfTime, psqlTime time.Duration
	var ratios []float64
	runADF := func(i int) time.Duration {
		start := time.Now()
		res, err := eng.Run(context.Background(), csvToPostgres("bench", in, url, `"table": "adf_t"`, benchParallelism), fmt.Sprintf("bench-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		if res.Stats.RowsWritten != n {
			b.Fatalf("flow wrote %d rows", res.Stats.RowsWritten)
		}
		return time.Since(start)
	}
	runPsql := func() time.Duration {
		start := time.Now()
		cmd := osexec.Command("psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", fmt.Sprintf(`\copy psql_t FROM '%s' CSV HEADER`, in))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("psql \\copy: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range []string{"adf_t", "psql_t"} {
			exec(b, c, "DROP TABLE IF EXISTS "+t)
			exec(b, c, fmt.Sprintf(ddl, t))
		}
		exec(b, c, "CHECKPOINT")
		// Alternate which goes first, so neither always meets a warmer
		// cache or a busier machine.
		var a, p time.Duration
		if i%2 == 0 {
			a = runADF(i)
			exec(b, c, "CHECKPOINT")
			p = runPsql()
		} else {
			p = runPsql()
			exec(b, c, "CHECKPOINT")
			a = runADF(i)
		}
		adfTime += a
		psqlTime += p
		ratios = append(ratios, p.Seconds()/a.Seconds())
	}
	b.StopTimer()
	var a, p int64
	if err := c.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM adf_t), (SELECT count(*) FROM psql_t)").Scan(&a, &p); err != nil || a != n || p != n {
		b.Fatalf("row counts adf %d, psql %d (%v)", a, p, err)
	}
	adfRate := float64(n*b.N) / adfTime.Seconds()
	psqlRate := float64(n*b.N) / psqlTime.Seconds()
	b.ReportMetric(adfRate, "adf_rows/s")
	b.ReportMetric(psqlRate, "psql_rows/s")
	sort.Float64s(ratios)
	median := ratios[len(ratios)/2]
	b.ReportMetric(adfRate/psqlRate, "ratio")
	b.ReportMetric(median, "median_ratio")
	b.Logf("%d runs of %d rows, %d readers, file batch_size %d: adf %.0f rows/s, psql \\copy %.0f rows/s, ratio %.2f (per-run ratios %.2f)",
		b.N, n, benchParallelism, fileBatchSize, adfRate, psqlRate, adfRate/psqlRate, ratios)
}

// benchParallelism is the number of file readers in BenchmarkCSVToPostgres
// (ADF_BENCH_PARALLELISM overrides it).
var benchParallelism = func() int {
	if v, err := strconv.Atoi(os.Getenv("ADF_BENCH_PARALLELISM")); err == nil && v > 0 {
		return v
	}
	return 2
}()

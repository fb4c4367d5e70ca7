package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk/flow"
)

// benchRounds is the least number of rounds BenchmarkCSVToPostgres runs
// (-benchtime Nx with N larger runs N).
const benchRounds = 5

// BenchmarkCSVToPostgres loads the same 1M-row CSV file into two identical
// tables with a primary key, alternating which goes first, at least 5 times:
// with a whole `adf run` process (file source -> postgres sink, append,
// every config left at its default) and with a whole `psql \copy` process.
// Every load is verified (count and sum of ids); it prints the medians, the
// min–max of both and their ratio (adf / psql; the goal is at least 0.9).
func BenchmarkCSVToPostgres(b *testing.B) {
	const n = 1_000_000
	const wantSum = int64(n) * (n + 1) / 2
	dir := b.TempDir()
	url := testkit.NewDatabase(b)
	c := connect(b, url)
	in := filepath.Join(dir, "orders.csv")
	writeOrders(b, in, genOrders(1, n, 1))
	a := newADF(b)
	f := &flow.Flow{
		Name:   "bench",
		Source: flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q, "format": "csv"}`, in))},
		Sink:   flow.Component{Type: "postgres", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "table": "adf_t"}`, url))},
	}
	doc := a.WriteFlow(b, f.Name, flowDoc(b, f))
	verify := func(table string) {
		b.Helper()
		var cnt, sum int64
		if err := c.QueryRow(context.Background(), "SELECT count(*), coalesce(sum(id), 0)::bigint FROM "+table).Scan(&cnt, &sum); err != nil {
			b.Fatalf("verify %s: %v", table, err)
		}
		if cnt != n || sum != wantSum {
			b.Fatalf("%s holds %d rows, sum(id) %d; want %d and %d", table, cnt, sum, n, wantSum)
		}
	}
	runADF := func() time.Duration {
		start := time.Now()
		r := a.Run(b, "run", "--progress", "none", doc)
		d := time.Since(start)
		if r.Code != 0 {
			b.Fatalf("adf run failed\n%s", r)
		}
		if s := r.Summary(b); s.Written != n || s.Rejected != 0 {
			b.Fatalf("adf run: %+v, want %d written", s, n)
		}
		verify("adf_t")
		return d
	}
	runPsql := func() time.Duration {
		start := time.Now()
		cmd := osexec.Command("psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", fmt.Sprintf(`\copy psql_t FROM '%s' CSV HEADER`, in))
		out, err := cmd.CombinedOutput()
		d := time.Since(start)
		if err != nil {
			b.Fatalf("psql \\copy: %v\n%s", err, out)
		}
		verify("psql_t")
		return d
	}
	rounds := max(b.N, benchRounds)
	var adfRates, psqlRates, ratios []float64
	b.ResetTimer()
	for i := 0; i < rounds; i++ {
		b.StopTimer()
		for _, t := range []string{"adf_t", "psql_t"} {
			exec(b, c, "DROP TABLE IF EXISTS "+t)
			exec(b, c, fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, name text, amount double precision, ts timestamptz)`, t))
		}
		exec(b, c, "CHECKPOINT")
		b.StartTimer()
		// Alternate which goes first, so neither always meets a warmer
		// cache or a busier machine.
		var ad, pd time.Duration
		if i%2 == 0 {
			ad = runADF()
			exec(b, c, "CHECKPOINT")
			pd = runPsql()
		} else {
			pd = runPsql()
			exec(b, c, "CHECKPOINT")
			ad = runADF()
		}
		adfRates = append(adfRates, n/ad.Seconds())
		psqlRates = append(psqlRates, n/pd.Seconds())
		ratios = append(ratios, pd.Seconds()/ad.Seconds())
		b.Logf("round %d (%s first): adf %v (%.0f rows/s), psql \\copy %v (%.0f rows/s), ratio %.2f",
			i+1, map[bool]string{true: "adf", false: "psql"}[i%2 == 0], ad.Round(time.Millisecond), n/ad.Seconds(), pd.Round(time.Millisecond), n/pd.Seconds(), pd.Seconds()/ad.Seconds())
	}
	b.StopTimer()
	adfMed, psqlMed, ratioMed := median(adfRates), median(psqlRates), median(ratios)
	b.ReportMetric(adfMed, "adf_rows/s")
	b.ReportMetric(psqlMed, "psql_rows/s")
	b.ReportMetric(adfMed/psqlMed, "ratio")
	b.ReportMetric(ratioMed, "median_ratio")
	b.Logf("%d rounds of %d rows into a table with a primary key, default configs, every load verified (count, sum(id)):\n"+
		"  adf run     median %.0f rows/s (min–max %.0f–%.0f)\n"+
		"  psql \\copy  median %.0f rows/s (min–max %.0f–%.0f)\n"+
		"  ratio of the medians %.2f; per-round ratios median %.2f (min–max %.2f–%.2f)",
		rounds, n, adfMed, slices.Min(adfRates), slices.Max(adfRates), psqlMed, slices.Min(psqlRates), slices.Max(psqlRates),
		adfMed/psqlMed, ratioMed, slices.Min(ratios), slices.Max(ratios))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

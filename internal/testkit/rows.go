package testkit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Order is one generated input row (id, name, amount, ts).
type Order struct {
	ID     int64
	Name   string
	Amount string // as written, two decimals
	TS     time.Time
}

// Canon is the row's canonical form, for order-insensitive comparisons.
func (o Order) Canon() string {
	a, _ := strconv.ParseFloat(o.Amount, 64)
	return fmt.Sprintf("%d|%s|%.2f|%s", o.ID, o.Name, a, o.TS.UTC().Format(time.RFC3339))
}

// Canon returns the canonical form of each order.
func Canon(orders []Order) []string {
	out := make([]string, len(orders))
	for i, o := range orders {
		out[i] = o.Canon()
	}
	return out
}

// WriteOrdersCSV writes rows with ids [first, first+n) as CSV with a header
// (id, name, amount, ts); names include quoted commas, escaped quotes and
// non-ASCII text.
func WriteOrdersCSV(t testing.TB, path string, first, n int) []Order {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,name,amount,ts")
	rng := rand.New(rand.NewSource(int64(first)))
	names := []string{"alice", "bob", `"smith, jr"`, "zoë", `"say ""hi"""`}
	plain := []string{"alice", "bob", "smith, jr", "zoë", `say "hi"`}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]Order, 0, n)
	for i := first; i < first+n; i++ {
		k := rng.Intn(len(names))
		cents := rng.Intn(1000000)
		amount := fmt.Sprintf("%d.%02d", cents/100, cents%100)
		ts := base.Add(time.Duration(i) * time.Second)
		fmt.Fprintf(w, "%d,%s,%s,%s\n", i, names[k], amount, ts.Format(time.RFC3339))
		out = append(out, Order{int64(i), plain[k], amount, ts})
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ReadOrdersJSONL reads JSON-lines output of order rows in canonical form.
func ReadOrdersJSONL(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row struct {
			ID     int64   `json:"id"`
			Name   string  `json:"name"`
			Amount float64 `json:"amount"`
			TS     string  `json:"ts"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		ts, err := time.Parse(time.RFC3339Nano, row.TS)
		if err != nil {
			t.Fatalf("bad ts in %q: %v", sc.Text(), err)
		}
		out = append(out, fmt.Sprintf("%d|%s|%.2f|%s", row.ID, row.Name, row.Amount, ts.UTC().Format(time.RFC3339)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// SameRows fails the test unless got and want hold the same rows the same
// number of times, in any order; it reports what is missing or repeated.
func SameRows(t testing.TB, got, want []string) {
	t.Helper()
	count := make(map[string]int, len(want))
	for _, w := range want {
		count[w]++
	}
	var extra []string
	for _, g := range got {
		if count[g] == 0 {
			extra = append(extra, g)
			continue
		}
		count[g]--
	}
	var missing []string
	for k, c := range count {
		for ; c > 0; c-- {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(extra) > 0 || len(missing) > 0 {
		t.Fatalf("rows differ: got %d, want %d; %d unexpected or repeated (first %v), %d missing (first %v)",
			len(got), len(want), len(extra), firstFew(extra), len(missing), firstFew(missing))
	}
}

func firstFew(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

// OrdersArrowSchema is the Arrow schema of the rows WriteOrdersCSV writes, as
// an in-process reader (arrow-go's CSV reader, pqarrow) would declare it.
func OrdersArrowSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
}

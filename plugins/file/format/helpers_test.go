package format

import (
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// writeFile writes content to a new file in a temporary directory and opens
// it.
func writeFile(t testing.TB, content string) (*os.File, int64) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return openFile(t, p)
}

func openFile(t testing.TB, p string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

// rowStrings renders every row of rec as a canonical string.
func rowStrings(t testing.TB, rec arrow.RecordBatch) []string {
	t.Helper()
	out := make([]string, rec.NumRows())
	for i := range out {
		var sb strings.Builder
		for c, col := range rec.Columns() {
			if c > 0 {
				sb.WriteByte('|')
			}
			sb.WriteString(valueString(t, col, i))
		}
		out[i] = sb.String()
	}
	return out
}

func valueString(t testing.TB, col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "NULL"
	}
	switch a := col.(type) {
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.String:
		return strconv.Quote(a.Value(i))
	case *array.Timestamp:
		return "ts" + strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Date32:
		return "d" + strconv.FormatInt(int64(a.Value(i)), 10)
	}
	t.Fatalf("unexpected array type %T", col)
	return ""
}

// result is everything a reader produced.
type result struct {
	rows    []string
	rejects []Rejected
	batches int
}

// drain reads r to the end, checking the batch contract.
func drain(t testing.TB, r RecordReader, batchSize int) result {
	t.Helper()
	var res result
	for {
		rec, rej, err := r.Next()
		res.rejects = append(res.rejects, rej...)
		if rec != nil {
			if rec.NumRows() == 0 {
				t.Fatal("Next returned an empty record")
			}
			if batchSize > 0 && rec.NumRows() > int64(batchSize) {
				t.Fatalf("batch of %d rows exceeds batch size %d", rec.NumRows(), batchSize)
			}
			res.rows = append(res.rows, rowStrings(t, rec)...)
			res.batches++
			rec.Release()
		}
		if errors.Is(err, io.EOF) {
			if rec != nil {
				t.Fatal("Next returned a record together with io.EOF")
			}
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
	}
	// Further calls keep returning io.EOF.
	if rec, _, err := r.Next(); rec != nil || !errors.Is(err, io.EOF) {
		t.Fatalf("Next after EOF = %v, %v", rec, err)
	}
	return res
}

// checkedMem returns a checked allocator verified at the end of the test.
func checkedMem(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

var testSchema = Schema{
	{Name: "id", Type: "int64"},
	{Name: "name", Type: "string"},
	{Name: "amount", Type: "float64"},
	{Name: "ts", Type: "timestamp"},
}

var nameParts = []string{
	"alice", "Bob, Jr.", `say "hi"`, "café", "日本語", "emoji 🎉", " leading space", "trailing ",
	`""`, "a;b", "tab\there", "x", "comma,and\"quote", "Ünïcödé", `\.`, "NA",
}

// genRecords builds n rows of testSchema in records of varying sizes.
// With newlines, some names contain line breaks.
func genRecords(t testing.TB, mem memory.Allocator, n int, seed uint64, newlines bool) []arrow.RecordBatch {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	as, err := testSchema.Arrow()
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	var recs []arrow.RecordBatch
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i) - 1000)
		name := nameParts[rng.IntN(len(nameParts))] + " " + strconv.Itoa(i)
		if newlines && i%7 == 0 {
			name += "\nsecond line\r\nthird"
		}
		b.Field(1).(*array.StringBuilder).Append(name)
		if i%13 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(math.Round(rng.NormFloat64()*1e6) / 1e2 * math.Pow(10, float64(rng.IntN(9)-4)))
		}
		if i%17 == 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(base + rng.Int64N(1e15) - 5e14))
		}
		if b.Field(0).Len() == 1+i%997 || i == n-1 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	return recs
}

func allRows(t testing.TB, recs []arrow.RecordBatch) []string {
	var rows []string
	for _, r := range recs {
		rows = append(rows, rowStrings(t, r)...)
	}
	return rows
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// sameMultiset compares two row lists regardless of order.
func sameMultiset(t *testing.T, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if len(g) != len(w) {
		t.Fatalf("got %d rows, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("row multisets differ: first difference got %q want %q", g[i], w[i])
		}
	}
}

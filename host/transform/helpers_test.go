package transform

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute/exec"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// checkedCtx returns a context whose Arrow allocator fails the test if any
// allocation is still live when the test ends.
func checkedCtx(t testing.TB) (context.Context, memory.Allocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return exec.WithAllocator(context.Background(), mem), mem
}

// makeRecord builds a record from a JSON array of row objects.
func makeRecord(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows string) arrow.Record {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(rows))
	if err != nil {
		t.Fatalf("RecordFromJSON: %v", err)
	}
	return rec
}

// rowsJSON renders a record as JSON lines (keys sorted) for comparison.
func rowsJSON(t testing.TB, rec arrow.Record) string {
	t.Helper()
	var buf bytes.Buffer
	if err := array.RecordToJSON(rec, &buf); err != nil {
		t.Fatalf("RecordToJSON: %v", err)
	}
	return strings.TrimSpace(buf.String())
}

func lines(ls ...string) string { return strings.Join(ls, "\n") }

func mustNew(t testing.TB, typ, config string) Transform {
	t.Helper()
	tr, err := New(typ, []byte(config))
	if err != nil {
		t.Fatalf("New(%q, %s): %v", typ, config, err)
	}
	return tr
}

func fieldNames(rec arrow.Record) []string {
	var out []string
	for _, f := range rec.Schema().Fields() {
		out = append(out, f.Name)
	}
	return out
}

func eqStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var sampleSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "extra", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

const sampleRows = `[
	{"id": 1, "name": "a", "amount": "5.5", "extra": true},
	{"id": 2, "name": "x", "amount": "20", "extra": false},
	{"id": 3, "name": "b", "amount": "abc", "extra": null},
	{"id": 4, "name": null, "amount": "12.25", "extra": true},
	{"id": 5, "name": "c", "amount": null, "extra": false}
]`

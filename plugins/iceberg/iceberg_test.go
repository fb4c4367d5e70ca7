package iceberg_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/sdktest"
)

func TestSinkConformance(t *testing.T) {
	w := newWarehouse(t)
	sdktest.TestSink(t, component(sdk.KindSink), sdktest.SinkOptions{
		Config:   w.config("db.conf", nil),
		ReadBack: func(t *testing.T) []string { return w.readRows(t, "db.conf") },
	})
}

// batch builds rows [from, from+n) of (id int64, name string).
func batch(from, n int) arrow.RecordBatch {
	ids := array.NewInt64Builder(memory.DefaultAllocator)
	names := array.NewStringBuilder(memory.DefaultAllocator)
	defer ids.Release()
	defer names.Release()
	for i := from; i < from+n; i++ {
		ids.Append(int64(i))
		names.Append(fmt.Sprintf("name %d", i))
	}
	a, b := ids.NewArray(), names.NewArray()
	defer a.Release()
	defer b.Release()
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	return array.NewRecordBatch(sc, []arrow.Array{a, b}, int64(n))
}

func rowsOf(from, n int) []string {
	out := make([]string, 0, n)
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("%d\x1fname %d", i, i))
	}
	return out
}

func TestSourceConformance(t *testing.T) {
	ctx := context.Background()
	w := newWarehouse(t)
	s, err := component(sdk.KindSink).NewSinkFromConfig(w.config("db.src", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx, sdk.SinkInit{Flow: "f", RunID: "r"}); err != nil {
		t.Fatal(err)
	}
	// Three checkpoints: three data files, so three splits.
	for cp := 0; cp < 3; cp++ {
		rec := batch(cp*10000, 10000)
		if err := s.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		flushAndCommit(t, s, int64(cp+1), cp == 2)
	}
	s.Close(ctx)
	sdktest.TestSource(t, component(sdk.KindSource), sdktest.SourceOptions{
		Config: w.config("db.src", map[string]any{"batch_size": 1000}), ExpectRows: 30000,
	})
	sdktest.TestSource(t, component(sdk.KindSource), sdktest.SourceOptions{
		Config: w.config("db.src", map[string]any{"columns": []string{"id"}, "filter": "id >= 5000 and id < 25000 and name != 'name 7000'"}), ExpectRows: 19999,
	})
}

package sdktest

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/activedataflow/adf/sdk"
)

// SinkOptions configure TestSink.
type SinkOptions struct {
	// Config is the component's JSON config.
	Config []byte
	// ReadBack returns the rows the sink's target holds, rendered like Rows
	// renders a batch (column values joined with \x1f, in schema order).
	ReadBack func(t *testing.T) []string
	// AtLeastOnce sinks may keep rows written after the last flush; the
	// check that such rows are discarded is then skipped.
	AtLeastOnce bool
	// Batch builds test batch number i (default: columns id int64, name
	// string with 100 rows each).
	Batch func(i int) arrow.RecordBatch
}

// TestSink checks a sink against the delivery contract:
//   - Flush reports the rows written since the previous flush;
//   - rows written after the last Flush are discarded by Close (unless
//     AtLeastOnce), so a failed attempt leaves nothing behind;
//   - a sink opened with the state of a flush continues after it, and the
//     final flush publishes exactly the flushed rows, once each.
func TestSink(t *testing.T, c sdk.Component, opts SinkOptions) {
	t.Helper()
	ctx := context.Background()
	if opts.Batch == nil {
		opts.Batch = defaultBatch
	}
	if opts.ReadBack == nil {
		t.Fatal("sdktest.TestSink needs SinkOptions.ReadBack")
	}
	var rejected []sdk.Rejected
	reject := func(r sdk.Rejected) error { rejected = append(rejected, r); return nil }
	newSink := func() sdk.Sink {
		s, err := c.NewSinkFromConfig(opts.Config)
		if err != nil {
			t.Fatalf("create sink: %v", err)
		}
		return s
	}
	write := func(s sdk.Sink, i int) []string {
		rec := opts.Batch(i)
		defer rec.Release()
		if err := s.Write(ctx, rec); err != nil {
			t.Fatalf("Write batch %d: %v", i, err)
		}
		return Rows(rec)
	}

	// Attempt 1: batch 0 flushed at checkpoint 1, batch 1 written, then the
	// attempt dies.
	s1 := newSink()
	if err := s1.Open(ctx, sdk.SinkInit{Flow: "sdktest", RunID: "run-1", Reject: reject}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := write(s1, 0)
	res, err := s1.Flush(ctx, 1, false)
	if err != nil {
		t.Fatalf("Flush(1): %v", err)
	}
	if res.RowsWritten != int64(len(want)) {
		t.Errorf("Flush(1) reported %d rows written, want %d", res.RowsWritten, len(want))
	}
	if err := commit(ctx, s1, sdk.CommitRequest{CheckpointID: 1, Committables: res.Committables}); err != nil {
		t.Fatalf("Commit(1): %v", err)
	}
	lost := write(s1, 1)
	if err := s1.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Attempt 2 restores checkpoint 1, writes batch 2 and finishes.
	s2 := newSink()
	state := res.State
	if state == nil {
		state = []byte{}
	}
	if err := s2.Open(ctx, sdk.SinkInit{Flow: "sdktest", RunID: "run-1", RestoredState: state, RestoredCheckpointID: 1, Reject: reject}); err != nil {
		t.Fatalf("Open(restored): %v", err)
	}
	if err := commit(ctx, s2, sdk.CommitRequest{CheckpointID: 1, Committables: res.Committables, Restored: true}); err != nil {
		t.Fatalf("Commit(1, restored): %v", err)
	}
	more := write(s2, 2)
	res2, err := s2.Flush(ctx, 2, true)
	if err != nil {
		t.Fatalf("Flush(2, final): %v", err)
	}
	if res2.RowsWritten != int64(len(more)) {
		t.Errorf("Flush(2) reported %d rows written, want %d", res2.RowsWritten, len(more))
	}
	if err := commit(ctx, s2, sdk.CommitRequest{CheckpointID: 2, Committables: res2.Committables, Final: true}); err != nil {
		t.Fatalf("Commit(2): %v", err)
	}
	if err := s2.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(rejected) > 0 {
		t.Fatalf("sink rejected valid rows: %+v", rejected)
	}
	want = append(want, more...)
	got := opts.ReadBack(t)
	if opts.AtLeastOnce {
		got = removeAll(got, lost)
	}
	if diff := multisetDiff(got, want); diff != "" {
		t.Fatalf("sink output after a failed attempt and a restore: %s", diff)
	}
}

// commit commits a checkpoint as the SDK's server does: Commit for a
// Committer, a notification for a CheckpointListener.
func commit(ctx context.Context, s sdk.Sink, req sdk.CommitRequest) error {
	switch c := s.(type) {
	case sdk.Committer:
		return c.Commit(ctx, req)
	case sdk.CheckpointListener:
		return c.NotifyCheckpointComplete(ctx, req.CheckpointID)
	}
	return nil
}

func removeAll(rows, drop []string) []string {
	d := map[string]int{}
	for _, r := range drop {
		d[r]++
	}
	var out []string
	for _, r := range rows {
		if d[r] > 0 {
			d[r]--
			continue
		}
		out = append(out, r)
	}
	return out
}

func defaultBatch(i int) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	ids := array.NewInt64Builder(mem)
	names := array.NewStringBuilder(mem)
	defer ids.Release()
	defer names.Release()
	for j := 0; j < 100; j++ {
		ids.Append(int64(i*100 + j))
		names.Append(fmt.Sprintf("name %d", i*100+j))
	}
	a, b := ids.NewArray(), names.NewArray()
	defer a.Release()
	defer b.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{a, b}, 100)
}

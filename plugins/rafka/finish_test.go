package rafkaplugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// finishCfg is an available_now source whose partition 0 ends in a partial
// batch (batch_size 4), as in the fault matrix, where the crash around the
// final checkpoint left exactly that last batch pending.
func finishCfg(url, topic, group string) string {
	return fmt.Sprintf(`{"url": %q, "topic": %q, "group": %q, "mode": "available_now", "format": "json", "batch_size": 4,
		"schema": [{"name": "id", "type": "int64"}]}`, url, topic, group)
}

// produceWithBad appends n JSON entries and, after every fifth, one value
// that does not decode (a rejected record), to a new 1-partition topic. It
// returns the number of undecodable entries.
func produceWithBad(t *testing.T, rdb *redis.Client, topic string, n int) int {
	t.Helper()
	ctx := context.Background()
	if err := rafka.CreateTopic(ctx, rdb, topic, 1, true); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i := 0; i < n; i++ {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: rafka.StreamKey(topic, 0), Values: []any{"value", fmt.Sprintf(`{"id": %d}`, i)}}).Err(); err != nil {
			t.Fatal(err)
		}
		if i%5 == 4 {
			bad++
			if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: rafka.StreamKey(topic, 0), Values: []any{"value", "{not json"}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return bad
}

// drain polls r until EndOfInput.
func drain(t *testing.T, ctx context.Context, r sdk.SourceReader, out *collect) {
	t.Helper()
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("reader did not reach the end of its input")
		}
		st, err := r.PollNext(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if st == sdk.EndOfInput {
			return
		}
	}
}

// restoreReader opens a reader the way the host does after a restore: the
// checkpointed splits (encoded as the SDK encodes them) added before Start.
func restoreReader(t *testing.T, ctx context.Context, cfg string, state []sdk.Split) sdk.SourceReader {
	t.Helper()
	src, err := component(t, sdk.KindSource, "rafka").NewSourceFromConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var splits []sdk.Split
	for _, s := range state {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := src.DecodeSplit(s.SplitID(), data)
		if err != nil {
			t.Fatal(err)
		}
		splits = append(splits, sp)
	}
	r, err := src.CreateReader(readerCtx{0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.AddSplits(splits); err != nil {
		t.Fatal(err)
	}
	r.NotifyNoMoreSplits()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// splitState decodes one split of a reader snapshot.
func splitState(t *testing.T, s sdk.Split) map[string]any {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The final checkpoint of an available_now run is taken after every split
// finished. The host crashed after saving it, before the readers'
// CheckpointComplete: the restore sends CheckpointComplete(K) to readers
// opened with K's splits. Before the fix a finished split was gone from
// the snapshot, so that reader had nothing to acknowledge and the last
// batch (and, had they been in it, the rejected entries) stayed pending for
// good; the next run in the group then re-read those pending entries as its
// own uncommitted ones and emitted them again (the fault matrix's "3
// repeated" rows). Now the finished split stays in the snapshot with its
// end position until a checkpoint after the finish completes.
func TestFinishedSplitAcknowledgedAfterFinalCheckpointRestore(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 30
	bad := produceWithBad(t, rdb, topic, n)
	cfg := finishCfg(url, topic, "final")

	r := singleReader(t, ctx, cfg)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out := &collect{partitions: map[int32]bool{}}
	drain(t, ctx, r, out)
	if len(out.ids) != n || len(out.rejected) != bad || len(out.finished) != 1 {
		t.Fatalf("first attempt emitted %d rows, %d rejected, finished %v; want %d, %d, one split", len(out.ids), len(out.rejected), out.finished, n, bad)
	}
	// The final checkpoint K = 5: the finished split is in its state,
	// with the end position.
	state, err := r.SnapshotState(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	last, err := rafka.LastID(ctx, rdb, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(state) != 1 {
		t.Fatalf("final snapshot holds %d splits, want the finished one", len(state))
	}
	if m := splitState(t, state[0]); m["finished"] != true || m["position"] != last {
		t.Fatalf("final snapshot split %v, want finished at %s", m, last)
	}
	// Crash: no CheckpointComplete(5) reaches this reader.
	if p := pendingCount(t, rdb, topic, "final"); p != int64(n+bad) {
		t.Fatalf("%d entries pending before the completion, want all %d", p, n+bad)
	}

	// Restore of K: the reader acknowledges what the finished split
	// covers, rejected entries included, and reads nothing again.
	r2 := restoreReader(t, ctx, cfg, state)
	if err := r2.NotifyCheckpointComplete(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if p := pendingCount(t, rdb, topic, "final"); p != 0 {
		t.Fatalf("%d entries still pending after the restored final checkpoint completed, want 0", p)
	}
	out2 := &collect{partitions: map[int32]bool{}}
	drain(t, ctx, r2, out2)
	if len(out2.ids) != 0 || len(out2.rejected) != 0 || fmt.Sprint(out2.finished) != fmt.Sprint([]string{topic + ":0"}) {
		t.Fatalf("restored reader emitted %d rows, %d rejected, finished %v; want nothing emitted and the split finished", len(out2.ids), len(out2.rejected), out2.finished)
	}
	if st, err := r2.SnapshotState(ctx, 6); err != nil || len(st) != 0 {
		t.Fatalf("snapshot after the acknowledgement: %v %v, want no splits", st, err)
	}

	// The next run in the same group has nothing left to deliver again.
	r3 := singleReader(t, ctx, cfg)
	if err := r3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out3 := &collect{partitions: map[int32]bool{}}
	drain(t, ctx, r3, out3)
	if len(out3.ids) != 0 {
		t.Fatalf("next run in the group emitted %d rows again: %v", len(out3.ids), out3.ids)
	}
}

// A split that finishes after checkpoint 1's snapshot stays in the state
// (finished) until a checkpoint taken after the finish completes: checkpoint
// 1's completion acknowledges only what was emitted before its snapshot and
// keeps the split; a restore of checkpoint 2 acknowledges the rest; and a
// normal completion of 2 releases the split from the state.
func TestFinishedSplitKeptUntilCoveringCheckpointCompletes(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 30
	bad := produceWithBad(t, rdb, topic, n)
	cfg := finishCfg(url, topic, "keep")

	r := singleReader(t, ctx, cfg)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out := &collect{partitions: map[int32]bool{}}
	for len(out.ids) < 8 {
		if _, err := r.PollNext(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	before := int64(len(out.ids))
	if _, err := r.SnapshotState(ctx, 1); err != nil {
		t.Fatal(err)
	}
	drain(t, ctx, r, out)
	if err := r.NotifyCheckpointComplete(ctx, 1); err != nil {
		t.Fatal(err)
	}
	left := pendingCount(t, rdb, topic, "keep")
	if left == 0 || left >= int64(n+bad)-before {
		t.Fatalf("%d entries pending after checkpoint 1, want those emitted after its snapshot", left)
	}
	state, err := r.SnapshotState(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(state) != 1 || splitState(t, state[0])["finished"] != true {
		t.Fatalf("snapshot 2 after the finish: %v, want the finished split", state)
	}

	// A restore of 2 (no completion reached r) acknowledges the rest.
	r2 := restoreReader(t, ctx, cfg, state)
	if err := r2.NotifyCheckpointComplete(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if p := pendingCount(t, rdb, topic, "keep"); p != 0 {
		t.Fatalf("%d entries pending after the restored checkpoint 2 completed, want 0", p)
	}

	// The original reader's own completion of 2 releases the split.
	if err := r.NotifyCheckpointComplete(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if st, err := r.SnapshotState(ctx, 3); err != nil || len(st) != 0 {
		t.Fatalf("snapshot 3: %v %v, want no splits once 2 completed", st, err)
	}
	sort.Slice(out.ids, func(i, j int) bool { return out.ids[i] < out.ids[j] })
	for i, id := range out.ids {
		if id != int64(i) {
			t.Fatalf("emitted ids %v, want 0..%d once each", out.ids, n-1)
		}
	}
}

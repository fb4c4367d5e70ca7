package rafkaplugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

// In available_now mode the reader sends its next XREADGROUP ... > before it
// decodes the reply in hand. Those entries are pending but not emitted, so
// no snapshot covers them: a reader that dies with a read ahead in flight
// loses nothing, and the reader restored from its last checkpoint emits
// exactly the entries after it, each once.
func TestReadAheadIsNotCovered(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n, batch = 100, 10
	produceJSON(t, rdb, topic, 1, n, 0)
	cfg := fmt.Sprintf(`{"url": %q, "topic": %q, "group": "ahead", "mode": "available_now", "format": "json", "batch_size": %d}`, url, topic, batch)
	r := singleReader(t, ctx, cfg)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	first := &collect{partitions: map[int32]bool{}}
	for len(first.ids) < 3*batch {
		if _, err := r.PollNext(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	if len(first.ids) != 3*batch {
		t.Fatalf("emitted %d rows, want %d", len(first.ids), 3*batch)
	}
	// The fourth batch was asked for before the third went out: once
	// Redis has served it, it is pending too, though nobody saw it.
	deadline := time.Now().Add(5 * time.Second)
	for pendingCount(t, rdb, topic, "ahead") != 4*batch {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries pending after %d emitted, want %d: no read ahead", pendingCount(t, rdb, topic, "ahead"), 3*batch, 4*batch)
		}
		time.Sleep(10 * time.Millisecond)
	}
	splits, err := r.SnapshotState(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The reader dies: no completion, no XACK.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// The host restores checkpoint 1 into a new reader.
	src, err := component(t, sdk.KindSource, "rafka").NewSourceFromConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var restored []sdk.Split
	for _, sp := range splits {
		data, err := json.Marshal(sp)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := src.DecodeSplit(sp.SplitID(), data)
		if err != nil {
			t.Fatal(err)
		}
		restored = append(restored, rs)
	}
	r2, err := src.CreateReader(readerCtx{0})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := r2.AddSplits(restored); err != nil {
		t.Fatal(err)
	}
	r2.NotifyNoMoreSplits()
	if err := r2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r2.NotifyCheckpointComplete(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := pendingCount(t, rdb, topic, "ahead"); got != batch {
		t.Fatalf("%d pending after the restored checkpoint's completion, want the %d read ahead", got, batch)
	}
	second := &collect{partitions: map[int32]bool{}}
	for i := 0; ; i++ {
		st, err := r2.PollNext(ctx, second)
		if err != nil {
			t.Fatal(err)
		}
		if st == sdk.EndOfInput {
			break
		}
		if i > 1000 {
			t.Fatalf("no end of input; %d rows", len(second.ids))
		}
	}
	all := append(append([]int64(nil), first.ids...), second.ids...)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for i, id := range all {
		if len(all) != n || id != int64(i) {
			t.Fatalf("emitted %v (first attempt %v), want 0..%d once each", all, first.ids, n-1)
		}
	}
	if _, err := r2.SnapshotState(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := r2.NotifyCheckpointComplete(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got := pendingCount(t, rdb, topic, "ahead"); got != 0 {
		t.Fatalf("%d pending after the last checkpoint", got)
	}
}

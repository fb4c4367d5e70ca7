package rafkaplugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	rafkaplugin "github.com/activedataflow/adf/plugins/rafka"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// pendingIDs lists the entries of partition 0 pending for group, by consumer.
func pendingIDs(t *testing.T, rdb *redis.Client, topic, group string) map[string][]string {
	t.Helper()
	pend, err := rdb.XPendingExt(context.Background(), &redis.XPendingExtArgs{Stream: rafka.StreamKey(topic, 0), Group: group, Start: "-", End: "+", Count: 1000}).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, p := range pend {
		out[p.Consumer] = append(out[p.Consumer], p.ID)
	}
	return out
}

// readAs delivers the next n entries of partition 0 to consumer (XREADGROUP >).
func readAs(t *testing.T, rdb *redis.Client, topic, group, consumer string, n int64) []string {
	t.Helper()
	res, err := rdb.XReadGroup(context.Background(), &redis.XReadGroupArgs{Group: group, Consumer: consumer,
		Streams: []string{rafka.StreamKey(topic, 0), ">"}, Count: n, Block: -1}).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range res[0].Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

// A reader restored with a split at position P acknowledges, when the host
// notifies the restored checkpoint K, exactly what that state covers: its
// own entries up to P and the claimed entries the split lists. Its entries
// after P, and other consumers' entries, stay pending; it then re-reads the
// ones after P, and acknowledges them only with a checkpoint covering them.
func TestRestoredSplitAcknowledgedOnCheckpointComplete(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	produceJSON(t, rdb, topic, 1, 12, 0)
	if err := rafka.EnsureGroup(ctx, rdb, topic, 0, "g", "0"); err != nil {
		t.Fatal(err)
	}
	// The previous attempt as consumer adf read 0..2, another flow's
	// consumer read 3..4, adf read 5..9; adf had claimed 4 from a dead
	// consumer. The checkpoint saved position 6 and the claim of 4; the
	// attempt died before its XACK.
	ids := readAs(t, rdb, topic, "g", "adf", 3)
	ids = append(ids, readAs(t, rdb, topic, "g", "other", 2)...)
	ids = append(ids, readAs(t, rdb, topic, "g", "adf", 5)...)
	if err := rdb.XClaim(ctx, &redis.XClaimArgs{Stream: rafka.StreamKey(topic, 0), Group: "g", Consumer: "adf.claimed", Messages: []string{ids[4]}}).Err(); err != nil {
		t.Fatal(err)
	}
	p := ids[6]
	end, err := rafka.LastID(ctx, rdb, topic, 0)
	if err != nil {
		t.Fatal(err)
	}

	src, err := component(t, sdk.KindSource, "rafka").NewSourceFromConfig([]byte(fmt.Sprintf(
		`{"url": %q, "topic": %q, "group": "g", "mode": "available_now", "format": "json", "schema": [{"name": "id", "type": "int64"}]}`, url, topic)))
	if err != nil {
		t.Fatal(err)
	}
	state, _ := json.Marshal(map[string]any{"topic": topic, "partition": 0, "position": p, "end": end, "claimed": []string{ids[4]},
		"schema": []map[string]string{{"name": "id", "type": "int64"}}})
	sp, err := src.DecodeSplit(topic+":0", state)
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.CreateReader(readerCtx{0})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.AddSplits([]sdk.Split{sp}); err != nil {
		t.Fatal(err)
	}
	r.NotifyNoMoreSplits()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.NotifyCheckpointComplete(ctx, 7); err != nil {
		t.Fatalf("NotifyCheckpointComplete(7) of the restored checkpoint: %v", err)
	}
	got := pendingIDs(t, rdb, topic, "g")
	want := map[string][]string{"adf": ids[7:10], "other": ids[3:4]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pending after the restored checkpoint's completion: %v, want %v (position %s)", got, want, p)
	}

	// The reader re-reads its entries after P (7..9), then the new ones.
	out := &collect{partitions: map[int32]bool{}}
	for i := 0; i < 20; i++ {
		st, err := r.PollNext(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if st == sdk.EndOfInput {
			break
		}
	}
	sort.Slice(out.ids, func(i, j int) bool { return out.ids[i] < out.ids[j] })
	if fmt.Sprint(out.ids) != "[7 8 9 10 11]" {
		t.Fatalf("restored reader emitted %v, want [7 8 9 10 11]", out.ids)
	}
	// A completion of a checkpoint taken before those were emitted does
	// not acknowledge them.
	if err := r.NotifyCheckpointComplete(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, rdb, topic, "g"); len(got["adf"]) != 5 {
		t.Fatalf("pending after an unrelated completion: %v, want adf's 7..11", got)
	}
	if _, err := r.SnapshotState(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if err := r.NotifyCheckpointComplete(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if got, want := pendingIDs(t, rdb, topic, "g"), map[string][]string{"other": ids[3:4]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pending after checkpoint 9: %v, want %v", got, want)
	}
}

// proxy forwards TCP connections to Redis until it is cut.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

// cut stops accepting and drops every connection: Redis is unreachable.
func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// An XACK that keeps failing is retried, then reported as a transient
// unavailable error (the host restarts from the checkpoint), not swallowed;
// the entries stay pending.
func TestCheckpointAckFailureSurfaces(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	produceJSON(t, rdb, topic, 1, 20, 0)
	opts, _ := redis.ParseURL(url)
	px := newProxy(t, opts.Addr)
	r := singleReader(t, ctx, fmt.Sprintf(`{"url": "redis://%s/%d", "topic": %q, "group": "fail", "mode": "available_now", "format": "json"}`,
		px.ln.Addr(), opts.DB, topic))
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out := &collect{partitions: map[int32]bool{}}
	for len(out.ids) < 20 {
		if _, err := r.PollNext(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.SnapshotState(ctx, 1); err != nil {
		t.Fatal(err)
	}
	px.cut()
	start := time.Now()
	err := r.NotifyCheckpointComplete(ctx, 1)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeUnavailable || !se.Transient {
		t.Fatalf("NotifyCheckpointComplete with Redis gone: %v, want a transient %s sdk.Error", err, sdk.CodeUnavailable)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("gave up after %s: the XACK was not retried with backoff", d)
	}
	if n := pendingCount(t, rdb, topic, "fail"); n != 20 {
		t.Fatalf("%d entries pending after the failed XACK, want all 20", n)
	}
	// A cancelled context ends the retries at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	start = time.Now()
	if err := r.NotifyCheckpointComplete(cctx, 1); err == nil || time.Since(start) > 300*time.Millisecond {
		t.Fatalf("NotifyCheckpointComplete with a cancelled context: %v after %s, want an error at once", err, time.Since(start))
	}
	_ = rafkaplugin.Version
}

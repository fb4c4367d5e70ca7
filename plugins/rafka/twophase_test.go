package rafkaplugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// topicEntry is one entry of a partition as the sink must write it.
type topicEntry struct {
	Key, Name string
	ID        int64
}

// crashSink drives one attempt of the rafka sink the way the host does,
// with the crash windows under the test's control.
type crashSink struct {
	t   *testing.T
	s   sdk.Sink
	ctx context.Context
}

const crashSinkParts = 3

func openTopicSink(t *testing.T, url, topic string, init sdk.SinkInit) *crashSink {
	t.Helper()
	s, err := component(t, sdk.KindSink, "rafka").NewSinkFromConfig([]byte(fmt.Sprintf(
		`{"url": %q, "topic": %q, "partitions": %d, "key_column": "id", "header_columns": ["name"], "batch_size": 40}`, url, topic, crashSinkParts)))
	if err != nil {
		t.Fatal(err)
	}
	init.Flow, init.RunID = "crash flow", "run/1"
	init.Reject = func(r sdk.Rejected) error { t.Errorf("rejected %+v", r); return nil }
	ctx := context.Background()
	if err := s.Open(ctx, init); err != nil {
		t.Fatalf("Open(%+v): %v", init, err)
	}
	// A crashed attempt never closes its sink; Close at the end only
	// releases the connection.
	t.Cleanup(func() { _ = s.Close(ctx) })
	return &crashSink{t: t, s: s, ctx: ctx}
}

// write writes rows from..from+n-1 in batches of 50 (several chunks of 40
// per checkpoint, one partial).
func (c *crashSink) write(from, n int) {
	c.t.Helper()
	for i := from; i < from+n; i += 50 {
		rec := batch(c.t, i, min(50, from+n-i))
		if err := c.s.Write(c.ctx, rec); err != nil {
			c.t.Fatalf("Write rows %d..: %v", i, err)
		}
		rec.Release()
	}
}

func (c *crashSink) flush(id int64) sdk.FlushResult {
	c.t.Helper()
	res, err := c.s.Flush(c.ctx, id, false)
	if err != nil {
		c.t.Fatalf("Flush(%d): %v", id, err)
	}
	return res
}

func (c *crashSink) commit(id int64, res sdk.FlushResult, restored bool) {
	c.t.Helper()
	if err := c.s.(sdk.Committer).Commit(c.ctx, sdk.CommitRequest{CheckpointID: id, Committables: res.Committables, Restored: restored}); err != nil {
		c.t.Fatalf("Commit(%d, restored %v): %v", id, restored, err)
	}
}

// checkTopic compares every partition of topic, entry by entry, with rows
// 0..n-1 written once each in order, and reports duplicates.
func checkTopic(t *testing.T, rdb *redis.Client, topic string, n int) {
	t.Helper()
	ctx := context.Background()
	want := make([][]topicEntry, crashSinkParts)
	for i := 0; i < n; i++ {
		key := strconv.Itoa(i)
		p := rafka.PartitionFor(key, crashSinkParts)
		want[p] = append(want[p], topicEntry{Key: key, ID: int64(i), Name: fmt.Sprintf("name %d", i)})
	}
	seen := map[int64]int{}
	dups := 0
	for p := 0; p < crashSinkParts; p++ {
		msgs, err := rdb.XRange(ctx, rafka.StreamKey(topic, p), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		got := make([]topicEntry, 0, len(msgs))
		for _, m := range msgs {
			var v struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			}
			if err := json.Unmarshal([]byte(fmt.Sprint(m.Values["value"])), &v); err != nil {
				t.Fatalf("partition %d entry %s: value %v is not the row as JSON: %v", p, m.ID, m.Values, err)
			}
			if len(m.Values) != 3 || m.Values["name"] != v.Name {
				t.Fatalf("partition %d entry %s has fields %v, want key, value and the header name", p, m.ID, m.Values)
			}
			if seen[v.ID]++; seen[v.ID] > 1 {
				dups++
			}
			got = append(got, topicEntry{Key: fmt.Sprint(m.Values["key"]), ID: v.ID, Name: v.Name})
		}
		if dups > 0 {
			t.Errorf("partition %d: %d duplicate rows", p, dups)
		}
		if !reflect.DeepEqual(got, want[p]) {
			t.Errorf("partition %d holds %d entries, want %d in order (first few: got %v, want %v)", p, len(got), len(want[p]), head(got), head(want[p]))
		}
	}
	// Nothing staged is left behind once everything was committed.
	if left := scanKeys(t, rdb, "rafka:{"+topic+"}:adf:stage:"); len(left) > 0 {
		t.Errorf("stage streams left: %v", left)
	}
	if n := rdb.ZCard(ctx, "rafka:{"+topic+"}:adf:staging").Val(); n != 0 {
		t.Errorf("staging index lists %d streams, want 0", n)
	}
}

func head(es []topicEntry) []topicEntry { return es[:min(3, len(es))] }

// Flush(2) pre-committed, then the attempt died before the checkpoint was
// saved: the restore from 1 discards what checkpoint 2 staged (and the rows
// written after it), and the replay writes them once.
func TestTopicSinkCrashAfterFlushBeforeSave(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	a := openTopicSink(t, url, topic, sdk.SinkInit{})
	a.write(0, 100)
	res1 := a.flush(1)
	a.commit(1, res1, false)
	a.write(100, 100)
	a.flush(2)
	a.write(200, 30) // unflushed, in the attempt's write-side stage stream
	// die

	b := openTopicSink(t, url, topic, sdk.SinkInit{RestoredState: res1.State, RestoredCheckpointID: 1})
	b.commit(1, res1, true)
	b.write(100, 100)
	b.commit(3, b.flush(3), false)
	checkTopic(t, rdb, topic, 200)
}

// Flush(2) and the checkpoint saved, then the attempt died before Commit(2):
// the restored sink publishes checkpoint 2 from its stage stream.
func TestTopicSinkCrashBeforeCommit(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	a := openTopicSink(t, url, topic, sdk.SinkInit{})
	a.write(0, 100)
	a.commit(1, a.flush(1), false)
	a.write(100, 100)
	res2 := a.flush(2)
	// die
	if n := rdb.XLen(context.Background(), rafka.StreamKey(topic, 0)).Val() + rdb.XLen(context.Background(), rafka.StreamKey(topic, 1)).Val() +
		rdb.XLen(context.Background(), rafka.StreamKey(topic, 2)).Val(); n != 100 {
		t.Fatalf("%d entries visible before Commit(2), want the 100 of checkpoint 1", n)
	}

	b := openTopicSink(t, url, topic, sdk.SinkInit{RestoredState: res2.State, RestoredCheckpointID: 2})
	b.commit(2, res2, true)
	b.write(200, 100)
	b.commit(3, b.flush(3), false)
	checkTopic(t, rdb, topic, 300)
}

// Commit(2) ran, then the attempt died: the restore from 2 commits 2 again,
// which changes nothing.
func TestTopicSinkCrashAfterCommit(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	a := openTopicSink(t, url, topic, sdk.SinkInit{})
	a.write(0, 100)
	a.commit(1, a.flush(1), false)
	a.write(100, 100)
	res2 := a.flush(2)
	a.commit(2, res2, false)
	a.write(200, 10)
	// die

	b := openTopicSink(t, url, topic, sdk.SinkInit{RestoredState: res2.State, RestoredCheckpointID: 2})
	b.commit(2, res2, true)
	b.commit(2, res2, true) // and again: still nothing
	b.write(200, 100)
	b.commit(3, b.flush(3), false)
	checkTopic(t, rdb, topic, 300)
}

// A checkpoint without rows commits nothing, and the next one commits its
// rows.
func TestTopicSinkCommitWithoutRows(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	a := openTopicSink(t, url, topic, sdk.SinkInit{})
	res1 := a.flush(1)
	a.commit(1, res1, false)
	a.write(0, 100)
	a.commit(2, a.flush(2), false)
	checkTopic(t, rdb, topic, 100)
}

// The redis_cache sink is idempotent: after a crash between Flush(2) and the
// save of checkpoint 2 the replay SETs the same keys to the same values,
// and the cache holds exactly the input.
func TestCacheSinkCrashReplay(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	prefix := uniqueTopic(t, rdb) + ":"
	t.Cleanup(func() { deleteKeys(rdb, prefix) })
	open := func(init sdk.SinkInit) sdk.Sink {
		s, err := component(t, sdk.KindSink, "redis_cache").NewSinkFromConfig([]byte(fmt.Sprintf(
			`{"url": %q, "key_attribute": "id", "key_prefix": %q, "batch_size": 30}`, url, prefix)))
		if err != nil {
			t.Fatal(err)
		}
		init.Flow, init.RunID, init.Reject = "cache", "run-1", func(r sdk.Rejected) error { t.Errorf("rejected %+v", r); return nil }
		if err := s.Open(ctx, init); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(ctx) })
		return s
	}
	write := func(s sdk.Sink, from, n int) {
		rec := batch(t, from, n)
		defer rec.Release()
		if err := s.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	flush := func(s sdk.Sink, id int64) sdk.FlushResult {
		res, err := s.Flush(ctx, id, false)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	commit := func(s sdk.Sink, id int64, res sdk.FlushResult, restored bool) {
		if err := s.(sdk.Committer).Commit(ctx, sdk.CommitRequest{CheckpointID: id, Committables: res.Committables, Restored: restored}); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, k := range scanKeys(t, rdb, prefix) {
			out[k] = rdb.Get(ctx, k).Val()
		}
		return out
	}

	a := open(sdk.SinkInit{})
	write(a, 0, 100)
	res1 := flush(a, 1)
	commit(a, 1, res1, false)
	write(a, 100, 100)
	flush(a, 2)
	before := snapshot()
	// die

	b := open(sdk.SinkInit{RestoredState: res1.State, RestoredCheckpointID: 1})
	commit(b, 1, res1, true)
	write(b, 100, 100)
	if after := snapshot(); !reflect.DeepEqual(after, before) {
		t.Fatalf("the replay changed the cache: %d keys before, %d after", len(before), len(after))
	}
	commit(b, 3, flush(b, 3), false)
	got := snapshot()
	if len(got) != 200 {
		t.Fatalf("cache holds %d keys, want 200", len(got))
	}
	for i := 0; i < 200; i++ {
		want := fmt.Sprintf(`{"id":%d,"name":"name %d"}`, i, i)
		if v := got[prefix+strconv.Itoa(i)]; v != want {
			t.Fatalf("key %s%d holds %q, want %q", prefix, i, v, want)
		}
	}
}

// The sinks stating exactly-once or idempotent delivery (plugin.go) are
// Committers, as the SDK requires of them.
func TestTwoPhaseSinksAreCommitters(t *testing.T) {
	for typ, cfg := range map[string]string{"rafka": `{"url": "redis://127.0.0.1:1/0", "topic": "t"}`, "redis_cache": `{"url": "redis://127.0.0.1:1/0", "key_attribute": "id"}`} {
		s, err := component(t, sdk.KindSink, typ).NewSinkFromConfig([]byte(cfg))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(sdk.Committer); !ok {
			t.Errorf("sink %s is not a Committer", typ)
		}
	}
}

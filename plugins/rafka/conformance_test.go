package rafkaplugin_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/sdktest"
)

func TestSourceConformance(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	for _, format := range []string{"raw", "json"} {
		t.Run(format, func(t *testing.T) {
			topic := uniqueTopic(t, rdb)
			produceJSON(t, rdb, topic, 3, 5000, 0)
			cfg := fmt.Sprintf(`{"url": %q, "topic": %q, "group": "conf", "mode": "available_now", "format": %q, "batch_size": 300}`, url, topic, format)
			// The three runs of TestSource share the group: the second
			// run gets the first run's unacknowledged entries again from
			// the pending entries list, and the third restores the
			// second's checkpoint.
			sdktest.TestSource(t, component(t, sdk.KindSource, "rafka"), sdktest.SourceOptions{Config: []byte(cfg), Parallelism: 2, ExpectRows: 5000})
		})
	}
}

// enumCtx is the host side of an enumerator, in process.
type enumCtx struct {
	parallelism int
	assigned    map[int][]sdk.Split
	noMore      map[int]bool
}

func (e *enumCtx) AssignSplit(s sdk.Split, r int) error {
	return e.AssignSplits(map[int][]sdk.Split{r: {s}})
}
func (e *enumCtx) AssignSplits(m map[int][]sdk.Split) error {
	for r, ss := range m {
		e.assigned[r] = append(e.assigned[r], ss...)
	}
	return nil
}
func (e *enumCtx) SignalNoMoreSplits(r int) error { e.noMore[r] = true; return nil }
func (e *enumCtx) RegisteredReaders() []int {
	out := []int{}
	for i := 0; i < e.parallelism; i++ {
		out = append(out, i)
	}
	return out
}
func (e *enumCtx) Parallelism() int                                            { return e.parallelism }
func (e *enumCtx) CallPeriodically(time.Duration, func(context.Context) error) {}

type readerCtx struct{ id int }

// singleReader opens the source of a JSON config the way the host would for
// one reader: enumerator started, the reader's split requested, assigned and
// added, no more splits to come. Both are closed when the test ends.
func singleReader(t *testing.T, ctx context.Context, cfg string) sdk.SourceReader {
	t.Helper()
	src, err := component(t, sdk.KindSource, "rafka").NewSourceFromConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	ectx := &enumCtx{parallelism: 1, assigned: map[int][]sdk.Split{}, noMore: map[int]bool{}}
	enum, err := src.CreateEnumerator(ectx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enum.Close() })
	if err := enum.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := enum.HandleSplitRequest(ctx, 0, "test"); err != nil {
		t.Fatal(err)
	}
	r, err := src.CreateReader(readerCtx{0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.AddSplits(ectx.assigned[0]); err != nil {
		t.Fatal(err)
	}
	r.NotifyNoMoreSplits()
	return r
}

func (r readerCtx) ReaderID() int           { return r.id }
func (r readerCtx) SendSplitRequest() error { return nil }

type collect struct {
	ids        []int64
	partitions map[int32]bool
	finished   []string
	rejected   []sdk.Rejected
}

func (c *collect) Emit(_ string, rec arrow.RecordBatch) error {
	idCol := rec.Column(rec.Schema().FieldIndices("id")[0]).(*array.Int64)
	part := rec.Column(rec.Schema().FieldIndices("partition")[0]).(*array.Int32)
	for i := 0; i < int(rec.NumRows()); i++ {
		c.ids = append(c.ids, idCol.Value(i))
		c.partitions[part.Value(i)] = true
	}
	return nil
}
func (c *collect) Reject(r sdk.Rejected) error   { c.rejected = append(c.rejected, r); return nil }
func (c *collect) SplitFinished(id string) error { c.finished = append(c.finished, id); return nil }

// Two readers of one group split the partitions between them: each
// partition is read by exactly one reader, together they read everything
// once, and nothing is acknowledged before the checkpoint completes.
func TestReadersSplitPartitions(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 4000
	produceJSON(t, rdb, topic, 4, n, 0)
	src, err := component(t, sdk.KindSource, "rafka").NewSourceFromConfig([]byte(fmt.Sprintf(
		`{"url": %q, "topic": %q, "group": "split", "mode": "available_now", "format": "json", "batch_size": 128}`, url, topic)))
	if err != nil {
		t.Fatal(err)
	}
	ectx := &enumCtx{parallelism: 2, assigned: map[int][]sdk.Split{}, noMore: map[int]bool{}}
	enum, err := src.CreateEnumerator(ectx)
	if err != nil {
		t.Fatal(err)
	}
	defer enum.Close()
	if err := enum.Start(ctx); err != nil {
		t.Fatal(err)
	}
	outs := []*collect{{partitions: map[int32]bool{}}, {partitions: map[int32]bool{}}}
	var readers []sdk.SourceReader
	for i := 0; i < 2; i++ {
		if err := enum.AddReader(ctx, i); err != nil {
			t.Fatal(err)
		}
		if err := enum.HandleSplitRequest(ctx, i, "test"); err != nil {
			t.Fatal(err)
		}
		r, err := src.CreateReader(readerCtx{i})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := r.AddSplits(ectx.assigned[i]); err != nil {
			t.Fatal(err)
		}
		if !ectx.noMore[i] {
			t.Fatalf("reader %d was not told that no more splits come (available_now)", i)
		}
		r.NotifyNoMoreSplits()
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		readers = append(readers, r)
	}
	for i, want := range [][]string{{topic + ":0", topic + ":2"}, {topic + ":1", topic + ":3"}} {
		var got []string
		for _, s := range ectx.assigned[i] {
			got = append(got, s.SplitID())
		}
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("reader %d was assigned %v, want %v", i, got, want)
		}
	}
	for i, r := range readers {
		for polls := 0; ; polls++ {
			st, err := r.PollNext(ctx, outs[i])
			if err != nil {
				t.Fatal(err)
			}
			if st == sdk.EndOfInput {
				break
			}
			if polls > 10000 {
				t.Fatal("reader did not end")
			}
		}
		if len(outs[i].finished) != 2 {
			t.Fatalf("reader %d finished %v, want its two splits", i, outs[i].finished)
		}
	}
	for i, o := range outs {
		for p := range o.partitions {
			if int(p)%2 != i {
				t.Errorf("reader %d read partition %d, which belongs to reader %d", i, p, p%2)
			}
		}
	}
	all := append(append([]int64{}, outs[0].ids...), outs[1].ids...)
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	if len(all) != n {
		t.Fatalf("readers read %d rows together, want %d", len(all), n)
	}
	for i, id := range all {
		if id != int64(i) {
			t.Fatalf("row %d has id %d: rows lost or repeated", i, id)
		}
	}
	// Nothing is acknowledged before the checkpoint is complete.
	if got := pendingCount(t, rdb, topic, "split"); got != n {
		t.Fatalf("%d entries pending before the checkpoint completed, want all %d", got, n)
	}
	for _, r := range readers {
		if _, err := r.SnapshotState(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if got := pendingCount(t, rdb, topic, "split"); got != n {
		t.Fatalf("%d entries pending after the snapshot, want all %d (XACK only once durable)", got, n)
	}
	for _, r := range readers {
		if err := r.NotifyCheckpointComplete(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if got := pendingCount(t, rdb, topic, "split"); got != 0 {
		t.Fatalf("%d entries still pending after the checkpoint completed", got)
	}
}

// Entries another consumer of the group read and never acknowledged (a
// dead consumer) are claimed with XAUTOCLAIM once idle for claim_idle.
func TestDeadConsumerEntriesClaimed(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 1000
	produceJSON(t, rdb, topic, 2, n, 0)
	dead, err := rafka.NewConsumer(ctx, rdb, topic, "claim", "dead", rafka.ConsumerOptions{Count: 150})
	if err != nil {
		t.Fatal(err)
	}
	stolen, err := dead.Poll(ctx, -1)
	if err != nil || len(stolen) != 300 {
		t.Fatalf("dead consumer read %d entries (%v), want 300", len(stolen), err)
	}
	time.Sleep(1100 * time.Millisecond)
	r := singleReader(t, ctx, fmt.Sprintf(
		`{"url": %q, "topic": %q, "group": "claim", "mode": "available_now", "format": "json", "claim_idle": "1s"}`, url, topic))
	out := &collect{partitions: map[int32]bool{}}
	for {
		st, err := r.PollNext(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if st == sdk.EndOfInput {
			break
		}
	}
	if len(out.ids) != n {
		t.Fatalf("read %d rows, want %d (the dead consumer's 300 claimed)", len(out.ids), n)
	}
	seen := map[int64]bool{}
	for _, id := range out.ids {
		if seen[id] {
			t.Fatalf("id %d read twice", id)
		}
		seen[id] = true
	}
	if _, err := r.SnapshotState(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := r.NotifyCheckpointComplete(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := pendingCount(t, rdb, topic, "claim"); got != 0 {
		t.Fatalf("%d entries pending after the checkpoint, want 0", got)
	}
}

func TestTopicSinkConformance(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	sdktest.TestSink(t, component(t, sdk.KindSink, "rafka"), sdktest.SinkOptions{
		Config: []byte(fmt.Sprintf(`{"url": %q, "topic": %q, "partitions": 3, "key_column": "id", "header_columns": ["name"]}`, url, topic)),
		ReadBack: func(t *testing.T) []string {
			ctx := context.Background()
			var rows []string
			for p := 0; p < 3; p++ {
				msgs, err := rdb.XRange(ctx, rafka.StreamKey(topic, p), "-", "+").Result()
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range msgs {
					var v struct {
						ID   int64  `json:"id"`
						Name string `json:"name"`
					}
					if err := json.Unmarshal([]byte(m.Values["value"].(string)), &v); err != nil {
						t.Fatalf("value %v is not the row as JSON: %v", m.Values, err)
					}
					key := fmt.Sprint(v.ID)
					if m.Values["key"] != key || m.Values["name"] != v.Name {
						t.Fatalf("entry %v: want key %q and header name %q", m.Values, key, v.Name)
					}
					if want := rafka.PartitionFor(key, 3); want != p {
						t.Fatalf("key %s is in partition %d, want %d (FNV-1a)", key, p, want)
					}
					rows = append(rows, fmt.Sprintf("%d\x1f%s", v.ID, v.Name))
				}
			}
			return rows
		},
	})
}

func TestTopicSinkRetention(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	s, err := component(t, sdk.KindSink, "rafka").NewSinkFromConfig([]byte(fmt.Sprintf(`{"url": %q, "topic": %q, "partitions": 1, "maxlen": 50}`, url, topic)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx, sdk.SinkInit{Flow: "t", RunID: "r", Reject: func(sdk.Rejected) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	for i := 0; i < 50; i++ {
		rec := batch(t, i*100, 100)
		if err := s.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	res, err := s.Flush(ctx, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.(sdk.Committer).Commit(ctx, sdk.CommitRequest{CheckpointID: 1, Committables: res.Committables, Final: true}); err != nil {
		t.Fatal(err)
	}
	// MAXLEN ~ trims whole stream nodes: about 50, never all 5000.
	if n := rdb.XLen(ctx, rafka.StreamKey(topic, 0)).Val(); n < 50 || n > 500 {
		t.Fatalf("maxlen 50 kept %d of 5000 entries", n)
	}
}

// batch builds rows id i..i+n-1 with names.
func batch(t testing.TB, from, n int) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil))
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("name %d", i))
	}
	return b.NewRecordBatch()
}

func TestCacheSinkConformance(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	prefix := uniqueTopic(t, rdb) + ":"
	t.Cleanup(func() { deleteKeys(rdb, prefix) })
	sdktest.TestSink(t, component(t, sdk.KindSink, "redis_cache"), sdktest.SinkOptions{
		Config:      []byte(fmt.Sprintf(`{"url": %q, "key_attribute": "id", "key_prefix": %q, "ttl": "1h"}`, url, prefix)),
		AtLeastOnce: true,
		ReadBack: func(t *testing.T) []string {
			ctx := context.Background()
			keys := scanKeys(t, rdb, prefix)
			var rows []string
			for _, k := range keys {
				var v struct {
					ID   int64  `json:"id"`
					Name string `json:"name"`
				}
				if err := json.Unmarshal([]byte(rdb.Get(ctx, k).Val()), &v); err != nil {
					t.Fatal(err)
				}
				if k != prefix+fmt.Sprint(v.ID) {
					t.Fatalf("row %d stored under %q", v.ID, k)
				}
				if ttl := rdb.TTL(ctx, k).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
					t.Fatalf("TTL of %s is %s, want about 1h", k, ttl)
				}
				rows = append(rows, fmt.Sprintf("%d\x1f%s", v.ID, v.Name))
			}
			return rows
		},
	})
}

// scanKeys lists the keys starting with prefix.
func scanKeys(t testing.TB, rdb *redis.Client, prefix string) []string {
	t.Helper()
	var out []string
	iter := rdb.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
	for iter.Next(context.Background()) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func deleteKeys(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		typ    string
		kind   sdk.Kind
		config string
		fields []string
	}{
		{"rafka", sdk.KindSource, `{"bogus": 1, "format": "xml"}`, []string{"url", "topic", "group", "bogus", "format"}},
		{"rafka", sdk.KindSource, `{"url": "http://x", "topic": "a{b", "group": "g", "start": "yesterday", "block": "0s", "schema": [{"name": "a", "type": "int64"}]}`,
			[]string{"url", "topic", "start", "block", "schema"}},
		{"rafka", sdk.KindSource, `{"url": "redis://x", "topic": "t", "group": "g", "mode": "sometimes"}`, []string{"mode"}},
		{"rafka", sdk.KindSource, `{"url": "redis://x", "topic": "t", "group": "g", "format": "json", "schema": [{"name": "a", "type": "int"}]}`, []string{"schema[0].type"}},
		{"rafka", sdk.KindSource, `{"url": "redis://x", "topic": "t", "group": "g", "format": "json", "schema": [{"name": "", "type": "int64"}]}`, []string{"schema[0].name"}},
		{"rafka", sdk.KindSink, `{"url": "redis://x", "topic": "t", "maxlen": 5, "minid": "1-0", "format": "raw"}`, []string{"minid", "value_column"}},
		{"rafka", sdk.KindSink, `{"url": "redis://x", "topic": "t", "header_columns": ["key"]}`, []string{"header_columns[0]"}},
		{"redis_cache", sdk.KindSink, `{"url": "redis://x", "ttl": "soon"}`, []string{"key_attribute", "ttl"}},
		{"redis_cache", sdk.KindSink, `{"url": "redis://x", "key_attribute": " ", "ttl": "0.5ms"}`, []string{"key_attribute", "ttl"}},
	}
	for _, c := range cases {
		_, err := component(t, c.kind, c.typ).DecodeConfig([]byte(c.config))
		if err == nil {
			t.Errorf("%s %s accepted %s", c.kind, c.typ, c.config)
			continue
		}
		got := map[string]bool{}
		for _, e := range sdk.AsErrors(err) {
			got[e.Field] = true
			if e.Code != sdk.CodeInvalidConfig {
				t.Errorf("error %v has code %q, want invalid_config", e, e.Code)
			}
		}
		for _, f := range c.fields {
			if !got[f] {
				t.Errorf("%s %s config %s: errors %q do not name field %q", c.kind, c.typ, c.config, err, f)
			}
		}
	}
	// A valid config with every documented key is accepted.
	ok := `{"url": "redis://127.0.0.1:6379/0", "topic": "orders", "group": "g", "consumer": "c", "start": "1718000000000-0",
		"format": "json", "mode": "available_now", "schema": [{"name": "id", "type": "int64"}], "batch_size": 10, "block": "1s",
		"claim_idle": "1m", "discover_interval": "1s", "infer_rows": 5, "retry_limit": "10s"}`
	if _, err := component(t, sdk.KindSource, "rafka").DecodeConfig([]byte(ok)); err != nil {
		t.Errorf("valid source config rejected: %v", err)
	}
	for _, key := range []string{"url", "topic", "group", "consumer", "start", "format", "mode"} {
		if !strings.Contains(string(component(t, sdk.KindSource, "rafka").ConfigSchema()), `"`+key+`"`) {
			t.Errorf("source schema lacks the public key %q", key)
		}
	}
	for _, key := range []string{"url", "key_attribute", "key_prefix", "ttl"} {
		if !strings.Contains(string(component(t, sdk.KindSink, "redis_cache").ConfigSchema()), `"`+key+`"`) {
			t.Errorf("redis_cache schema lacks the public key %q", key)
		}
	}
}

// The record columns of format raw: key (null without one), value bytes,
// partition, id, timestamp from the id, and the headers column.
func TestSourceRecordColumns(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	if err := rafka.CreateTopic(ctx, rdb, topic, 1, false); err != nil {
		t.Fatal(err)
	}
	p, err := rafka.NewProducer(ctx, rdb, topic, rafka.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := p.Send(ctx,
		rafka.Message{Key: "u1", HasKey: true, Value: []byte{0xff, 0x00, 'x'}, Headers: map[string]string{"trace": "abc"}},
		rafka.Message{Value: []byte("no key")})
	if err != nil {
		t.Fatal(err)
	}
	r := singleReader(t, ctx, fmt.Sprintf(
		`{"url": %q, "topic": %q, "group": "cols", "mode": "available_now", "headers": true}`, url, topic))
	out := &rowsOut{}
	for {
		st, err := r.PollNext(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if st == sdk.EndOfInput {
			break
		}
	}
	ts0, _ := rafka.ParseID(ids[0])
	ts1, _ := rafka.ParseID(ids[1])
	want := []string{
		fmt.Sprintf("u1\x1f%s\x1f0\x1f%s\x1f%s\x1f{\"trace\":\"abc\"}", base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 'x'}), ids[0], ts0.Time().Format(time.RFC3339Nano)),
		fmt.Sprintf("\x00null\x1f%s\x1f0\x1f%s\x1f%s\x1f\x00null", base64.StdEncoding.EncodeToString([]byte("no key")), ids[1], ts1.Time().Format(time.RFC3339Nano)),
	}
	if fmt.Sprintf("%q", out.rows) != fmt.Sprintf("%q", want) {
		t.Fatalf("rows\n%q\nwant\n%q\nschema %v", out.rows, want, out.schema)
	}
	if fmt.Sprint(names(out.schema)) != "[key value partition id timestamp headers]" {
		t.Fatalf("columns %v", names(out.schema))
	}
}

type rowsOut struct {
	rows   []string
	schema *arrow.Schema
}

func (o *rowsOut) Emit(_ string, rec arrow.RecordBatch) error {
	o.schema = rec.Schema()
	o.rows = append(o.rows, sdktest.Rows(rec)...)
	return nil
}
func (o *rowsOut) Reject(sdk.Rejected) error  { return nil }
func (o *rowsOut) SplitFinished(string) error { return nil }

func names(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

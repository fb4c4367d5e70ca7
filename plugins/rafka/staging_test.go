package rafkaplugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/activedataflow/adf/internal/testkit"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// testRedis connects to the test Redis (scripts/services.sh) and returns a
// topic name of this test, deleted with its adf keys at the end.
func testRedis(t *testing.T) (string, *redis.Client, string) {
	t.Helper()
	url := testkit.RedisURL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	topic := strings.NewReplacer("/", "-").Replace(t.Name()) + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = rafka.DeleteTopic(ctx, rdb, topic)
		iter := rdb.Scan(ctx, 0, "rafka:{"+topic+"}:*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return url, rdb, topic
}

func idBatch(from, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil))
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
	}
	return b.NewRecordBatch()
}

// A Commit that died part way (here: one chunk of five published) is
// finished by the restored sink's Commit without repeating a row.
func TestCommitResumesAfterPartialCommit(t *testing.T) {
	ctx := context.Background()
	url, rdb, topic := testRedis(t)
	open := func(init sdk.SinkInit) *topicSink {
		s, _ := newTopicSink(&SinkConfig{URL: url, Topic: topic, Partitions: 2, KeyColumn: "id", Format: FormatJSON, BatchSize: 40})
		init.Flow, init.RunID = "f", "r"
		if err := s.Open(ctx, init); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(ctx) })
		return s
	}
	a := open(sdk.SinkInit{})
	rec := idBatch(0, 200)
	defer rec.Release()
	if err := a.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	res, err := a.Flush(ctx, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	var c committable
	if err := json.Unmarshal(res.Committables, &c); err != nil {
		t.Fatal(err)
	}
	if c.Chunks != 5 || c.Rows != 200 {
		t.Fatalf("committable %+v, want 5 chunks of 200 rows", c)
	}
	keys := []string{a.commits, a.index, c.Stage, rafka.StreamKey(topic, 0), rafka.StreamKey(topic, 1)}
	out, err := commitScript.Run(ctx, rdb, keys, c.Marker, c.Checkpoint, c.Chunks, 1, "", "", "").Int64Slice()
	if err != nil || out[0] != 0 || out[1] != 40 {
		t.Fatalf("first commit call: %v %v, want [0 40]", out, err)
	}
	// die

	b := open(sdk.SinkInit{RestoredState: res.State, RestoredCheckpointID: 1})
	if err := b.Commit(ctx, sdk.CommitRequest{CheckpointID: 1, Committables: res.Committables, Restored: true, Final: true}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for p := 0; p < 2; p++ {
		for _, m := range rdb.XRange(ctx, rafka.StreamKey(topic, p), "-", "+").Val() {
			seen[fmt.Sprint(m.Values["key"])]++
		}
	}
	for i := 0; i < 200; i++ {
		if n := seen[fmt.Sprint(i)]; n != 1 {
			t.Fatalf("row %d published %d times, want once", i, n)
		}
	}
	if len(seen) != 200 {
		t.Fatalf("%d distinct rows published, want 200", len(seen))
	}
	if rdb.Exists(ctx, c.Stage).Val() != 0 {
		t.Fatalf("stage stream %s left after the commit", c.Stage)
	}
}

// The MessagePack chunks survive the trip through the commit script byte
// for byte: every string length class, binary values, many fields.
func TestChunkEncodingThroughScript(t *testing.T) {
	ctx := context.Background()
	_, rdb, topic := testRedis(t)
	if err := rafka.CreateTopic(ctx, rdb, topic, 2, false); err != nil {
		t.Fatal(err)
	}
	var msgs [][][]byte
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536, 1 << 20} {
		v := bytes.Repeat([]byte{0, 0xff, 'x', 0xc1}, n/4+1)[:n]
		msgs = append(msgs, [][]byte{[]byte("key"), []byte(fmt.Sprint(n)), []byte("value"), v})
	}
	wide := [][]byte{[]byte("value"), []byte("wide")}
	for i := 0; i < 20; i++ {
		wide = append(wide, []byte(fmt.Sprintf("h%02d", i)), []byte(fmt.Sprint(i)))
	}
	msgs = append(msgs, wide)
	var cw chunkWriter
	for i, m := range msgs {
		cw.add(i%2, m)
	}
	stage := "rafka:{" + topic + "}:adf:stage:x"
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: stage, Values: []any{"m", cw.bytes()}})
	keys := []string{commitsKey(topic), stagingIndexKey(topic), stage, rafka.StreamKey(topic, 0), rafka.StreamKey(topic, 1)}
	out, err := commitScript.Run(ctx, rdb, keys, "x", 7, 1, 1, "MAXLEN", "~", 1000).Int64Slice()
	if err != nil || out[0] != 1 || out[1] != int64(len(msgs)) {
		t.Fatalf("commit: %v %v, want [1 %d]", out, err, len(msgs))
	}
	// XRANGE through go-redis loses the field order; read it raw.
	var got [][][]byte
	for i := range msgs {
		p := i % 2
		raw, err := rdb.Do(ctx, "XRANGE", rafka.StreamKey(topic, p), "-", "+").Slice()
		if err != nil {
			t.Fatal(err)
		}
		entry := raw[i/2].([]any)[1].([]any)
		var fields [][]byte
		for _, f := range entry {
			fields = append(fields, []byte(f.(string)))
		}
		got = append(got, fields)
	}
	for i := range msgs {
		if len(got[i]) != len(msgs[i]) {
			t.Fatalf("message %d: %d fields, want %d", i, len(got[i]), len(msgs[i]))
		}
		for j := range msgs[i] {
			if !bytes.Equal(got[i][j], msgs[i][j]) {
				t.Fatalf("message %d field %d: %d bytes differ from the %d written", i, j, len(got[i][j]), len(msgs[i][j]))
			}
		}
	}
	if rdb.HGet(ctx, commitsKey(topic), "x").Val() != "7:done" {
		t.Fatalf("marker %q, want 7:done", rdb.HGet(ctx, commitsKey(topic), "x").Val())
	}
	// Again: a no-op.
	if out, err := commitScript.Run(ctx, rdb, keys, "x", 7, 1, 1, "", "", "").Int64Slice(); err != nil || out[0] != 1 || out[1] != 0 {
		t.Fatalf("repeated commit: %v %v, want [1 0]", out, err)
	}
}

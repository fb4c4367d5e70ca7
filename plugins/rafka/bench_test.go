package rafkaplugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// BenchmarkRafkaSource compares, in the same run on the same Redis, a raw
// Go consumer (XREADGROUP COUNT 4096 over the 4 partitions, with the XACK
// of the previous batch pipelined in front of the next read) against a
// flow run end to end by the adf binary: `adf run` of the rafka source
// (available_now, format raw, 2 readers) in the plugin process → the
// discard sink, process start and plugin launch included. The two sides
// alternate which goes first. It reports both rates and their ratio
// (goal ≥ 0.5):
//
//	go test -run '^$' -bench RafkaSource -benchtime 2x ./plugins/rafka/
func BenchmarkRafkaSource(b *testing.B) {
	const n = 500_000
	url := testkit.RedisURL(b)
	rdb := connect(b, url)
	topic := uniqueTopic(b, rdb)
	produceJSON(b, rdb, topic, 4, n, 0)
	a := newADF(b)
	var rawTime, adfTime time.Duration
	raw := func(i int) {
		start := time.Now()
		got := rawConsume(b, rdb, topic, fmt.Sprintf("raw-%d", i), 4)
		rawTime += time.Since(start)
		if got != n {
			b.Fatalf("raw consumer read %d, want %d", got, n)
		}
	}
	viaADF := func(i int) {
		group := fmt.Sprintf("adf-%d", i)
		f := &flow.Flow{
			Name: fmt.Sprintf("bench-%d", i),
			Source: flow.Component{Type: "rafka", Config: json.RawMessage(fmt.Sprintf(
				`{"url": %q, "topic": %q, "group": %q, "mode": "available_now", "format": "raw", "batch_size": 4096}`, url, topic, group))},
			Parallelism: 2,
			Sink:        flow.Component{Type: "discard"},
		}
		path := a.WriteFlow(b, f.Name, flowDoc(b, f))
		start := time.Now()
		res := a.Run(b, "run", "--progress", "none", path)
		adfTime += time.Since(start)
		sum := succeeded(b, res)
		if sum.Read != n || sum.Written != n {
			b.Fatalf("flow read %d and wrote %d rows, want %d", sum.Read, sum.Written, n)
		}
		if p := pendingCount(b, rdb, topic, group); p != 0 {
			b.Fatalf("flow left %d entries pending", p)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			raw(i)
			viaADF(i)
		} else {
			viaADF(i)
			raw(i)
		}
	}
	b.StopTimer()
	rawRate := float64(n*b.N) / rawTime.Seconds()
	adfRate := float64(n*b.N) / adfTime.Seconds()
	b.ReportMetric(adfRate, "adf_rows/s")
	b.ReportMetric(rawRate, "raw_rows/s")
	b.ReportMetric(adfRate/rawRate, "ratio")
	b.Logf("adf run: rafka source → discard via plugins: %.0f rows/s; raw XREADGROUP+XACK: %.0f rows/s; ratio %.2f", adfRate, rawRate, adfRate/rawRate)
}

// rawConsume reads the whole topic as a new group with go-redis and
// acknowledges everything, pipelining each XACK with the next read.
func rawConsume(b *testing.B, rdb *redis.Client, topic, group string, partitions int) int {
	ctx := context.Background()
	streams := make([]string, 0, 2*partitions)
	for p := 0; p < partitions; p++ {
		if err := rafka.EnsureGroup(ctx, rdb, topic, p, group, "0"); err != nil {
			b.Fatal(err)
		}
		streams = append(streams, rafka.StreamKey(topic, p))
	}
	for p := 0; p < partitions; p++ {
		streams = append(streams, ">")
	}
	total := 0
	var prev []redis.XStream
	for {
		pipe := rdb.Pipeline()
		for _, s := range prev {
			ids := make([]string, len(s.Messages))
			for i, m := range s.Messages {
				ids[i] = m.ID
			}
			pipe.XAck(ctx, s.Stream, group, ids...)
		}
		read := pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "raw", Streams: streams, Count: 4096, Block: -1})
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			b.Fatal(err)
		}
		res, err := read.Result()
		if errors.Is(err, redis.Nil) || len(res) == 0 {
			return total
		}
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range res {
			total += len(s.Messages)
		}
		prev = res
	}
}

// BenchmarkRafkaSink drives the rafka sink in process the way the host does
// (Open, Write batches of 1000 rows, Flush every 50 batches and Commit when
// the sink is a Committer) and reports its rate next to a raw pipelined
// XADD producer (rafka.Producer) writing the same messages:
//
//	go test -run '^$' -bench RafkaSink -benchtime 3x ./plugins/rafka/
func BenchmarkRafkaSink(b *testing.B) {
	const n, perBatch, perCheckpoint = 200_000, 1000, 50
	ctx := context.Background()
	url := testkit.RedisURL(b)
	rdb := connect(b, url)
	batches := make([]arrow.RecordBatch, n/perBatch)
	for i := range batches {
		batches[i] = batch(b, i*perBatch, perBatch)
	}
	defer func() {
		for _, rec := range batches {
			rec.Release()
		}
	}()
	var rawTime, sinkTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rawTopic, sinkTopic := uniqueTopic(b, rdb), uniqueTopic(b, rdb)
		if err := rafka.CreateTopic(ctx, rdb, rawTopic, 4, false); err != nil {
			b.Fatal(err)
		}
		prod, err := rafka.NewProducer(ctx, rdb, rawTopic, rafka.ProducerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for j := 0; j < n; j += perBatch {
			msgs := make([]rafka.Message, perBatch)
			for k := range msgs {
				msgs[k] = rafka.Message{Key: strconv.Itoa(j + k), HasKey: true, Value: fmt.Appendf(nil, `{"id":%d,"name":"name %d"}`, j+k, j+k)}
			}
			if _, err := prod.Send(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
		}
		rawTime += time.Since(start)

		s, err := component(b, sdk.KindSink, "rafka").NewSinkFromConfig([]byte(fmt.Sprintf(`{"url": %q, "topic": %q, "partitions": 4, "key_column": "id"}`, url, sinkTopic)))
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := s.Open(ctx, sdk.SinkInit{Flow: "bench", RunID: fmt.Sprintf("bench-%d", i), Reject: func(sdk.Rejected) error { return nil }}); err != nil {
			b.Fatal(err)
		}
		ckpt := int64(0)
		for j, rec := range batches {
			if err := s.Write(ctx, rec); err != nil {
				b.Fatal(err)
			}
			if (j+1)%perCheckpoint == 0 || j == len(batches)-1 {
				ckpt++
				res, err := s.Flush(ctx, ckpt, j == len(batches)-1)
				if err != nil {
					b.Fatal(err)
				}
				if c, ok := s.(sdk.Committer); ok {
					if err := c.Commit(ctx, sdk.CommitRequest{CheckpointID: ckpt, Committables: res.Committables}); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		sinkTime += time.Since(start)
		if err := s.Close(ctx); err != nil {
			b.Fatal(err)
		}
		var got int64
		for p := 0; p < 4; p++ {
			got += rdb.XLen(ctx, rafka.StreamKey(sinkTopic, p)).Val()
		}
		if got != n {
			b.Fatalf("sink wrote %d entries, want %d", got, n)
		}
	}
	b.StopTimer()
	rawRate := float64(n*b.N) / rawTime.Seconds()
	sinkRate := float64(n*b.N) / sinkTime.Seconds()
	b.ReportMetric(sinkRate, "sink_rows/s")
	b.ReportMetric(rawRate, "raw_rows/s")
	b.ReportMetric(sinkRate/rawRate, "ratio")
	b.Logf("rafka sink: %.0f rows/s; raw pipelined XADD: %.0f rows/s; ratio %.2f", sinkRate, rawRate, sinkRate/rawRate)
}

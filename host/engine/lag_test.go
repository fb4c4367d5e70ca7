package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk/flow"
)

const rafkaPlugin = "plugins/rafka/cmd/adf-plugin-rafka"

// produce appends n JSON entries with ids from..from+n-1 to topic (created
// with partitions when missing).
func produce(t *testing.T, rdb *redis.Client, topic string, partitions, from, n int) {
	t.Helper()
	ctx := context.Background()
	if err := rafka.CreateTopic(ctx, rdb, topic, partitions, true); err != nil {
		t.Fatal(err)
	}
	p, err := rafka.NewProducer(ctx, rdb, topic, rafka.ProducerOptions{PipelineSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]rafka.Message, 0, n)
	for i := from; i < from+n; i++ {
		msgs = append(msgs, rafka.Message{Key: fmt.Sprintf("k%d", i), HasKey: true, Value: fmt.Appendf(nil, `{"id": %d}`, i)})
	}
	if _, err := p.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// A continuous rafka source reports each partition's lag: before it reads a
// partition, all its entries; once the flow has caught up, 0, also after
// more entries came and were read. A stop then ends the run with a final
// checkpoint that acknowledges everything.
func TestRafkaLagCatchesUp(t *testing.T) {
	url := testkit.RedisURL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	topic := strings.ReplaceAll(t.Name(), "/", "-") + fmt.Sprint(time.Now().UnixNano())
	t.Cleanup(func() { _ = rafka.DeleteTopic(context.Background(), rdb, topic) })
	const partitions, first, second = 2, 20_000, 5_000
	produce(t, rdb, topic, partitions, 0, first)
	entries := map[string]int64{}
	for p := 0; p < partitions; p++ {
		n, err := rdb.XLen(ctx, rafka.StreamKey(topic, p)).Result()
		if err != nil {
			t.Fatal(err)
		}
		entries[fmt.Sprintf("%s:%d", topic, p)] = n
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "out", "entries.jsonl")
	f := &flow.Flow{
		Name: "lag",
		Source: flow.Component{Type: "rafka", Config: json.RawMessage(fmt.Sprintf(
			`{"url": %q, "topic": %q, "group": "lag", "format": "json", "block": "100ms", "batch_size": 500}`, url, topic))},
		Parallelism: partitions,
		Sink:        flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
	}
	// firstLag is each split's first report; lastLag its latest.
	firstLag, lastLag := map[string]int64{}, map[string]int64{}
	rec := &recorder{on: func(ev engine.Event) {
		for id, n := range ev.Lag {
			if _, ok := firstLag[id]; !ok {
				firstLag[id] = n
			}
			lastLag[id] = n
		}
	}}
	stop := make(chan struct{})
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin, rafkaPlugin), DataDir: dir, OnEvent: rec.record, Stop: stop})
	done := make(chan error, 1)
	var res engine.Result
	go func() {
		var err error
		res, err = eng.Run(ctx, f, "run-lag")
		done <- err
	}()
	caughtUp := func(rows int64) func() bool {
		return func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(lastLag) != partitions {
				return false
			}
			for _, n := range lastLag {
				if n != 0 {
					return false
				}
			}
			for i := len(rec.events) - 1; i >= 0; i-- {
				if rec.events[i].Kind == "progress" {
					return rec.events[i].RowsRead == rows
				}
			}
			return false
		}
	}
	diag := func() string {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return fmt.Sprintf("first lag %v, last lag %v", firstLag, lastLag)
	}
	testkit.WaitFor(t, 2*time.Minute, "the flow to catch up (lag 0 on every partition)", caughtUp(first), diag)
	rec.mu.Lock()
	for id, n := range entries {
		if firstLag[id] != n {
			t.Errorf("first lag of %s = %d, want its %d entries (reported before it is read)", id, firstLag[id], n)
		}
	}
	rec.mu.Unlock()

	// More entries: read, and the lag goes back to 0.
	rec.mu.Lock()
	for id := range lastLag {
		lastLag[id] = -1
	}
	rec.mu.Unlock()
	produce(t, rdb, topic, partitions, first, second)
	testkit.WaitFor(t, 2*time.Minute, "the flow to catch up again", caughtUp(first+second), diag)

	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stopped run failed: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the stopped run did not return within 1m")
	}
	if res.Stats.RowsWritten != first+second {
		t.Fatalf("stats = %+v, want %d rows written", res.Stats, first+second)
	}
	// The final checkpoint acknowledged every entry.
	for p := 0; p < partitions; p++ {
		pend, err := rdb.XPending(ctx, rafka.StreamKey(topic, p), "lag").Result()
		if err != nil {
			t.Fatal(err)
		}
		if pend.Count != 0 {
			t.Errorf("partition %d: %d entries still pending after the final checkpoint", p, pend.Count)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != first+second {
		t.Errorf("output has %d lines, want %d", n, first+second)
	}
}

package rafkaplugin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// rafkaPlugin is the package of the plugin binary the engine tests run.
const rafkaPlugin = "plugins/rafka/cmd/adf-plugin-rafka"

// engineOptions builds the registry of a plugins directory holding the
// real file and rafka plugin binaries.
func engineOptions(t testing.TB) engine.Options {
	t.Helper()
	reg, err := builtin.Registry(context.Background(), testkit.PluginDir(t, testkit.FilePlugin, rafkaPlugin), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := reg.Problems(); len(p) > 0 {
		t.Fatalf("plugin problems: %v", p)
	}
	return engine.Options{Registry: reg, DataDir: t.TempDir()}
}

// toJSONL is a flow from a rafka topic (format json) to a JSON-lines file.
func toJSONL(name, url, topic, group, extra, out string, parallelism int) *flow.Flow {
	return &flow.Flow{
		Name: name,
		Source: flow.Component{Type: "rafka", Config: json.RawMessage(fmt.Sprintf(
			`{"url": %q, "topic": %q, "group": %q, "format": "json", "mode": "available_now"%s}`, url, topic, group, extra))},
		Parallelism: parallelism,
		Sink:        flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
	}
}

// readIDs returns the JSON id of every output line, sorted.
func readIDs(t testing.TB, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row struct {
			ID        *int64 `json:"id"`
			Name      string `json:"name"`
			Key       string `json:"key"`
			Partition *int   `json:"partition"`
			StreamID  string `json:"_id"`
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		if row.ID == nil || row.Name != fmt.Sprintf("n%d", *row.ID) || row.Key != fmt.Sprintf("k%d", *row.ID) || row.Partition == nil || row.StreamID == "" || row.Timestamp == "" {
			t.Fatalf("output line %q lacks the decoded columns or the metadata (key, partition, _id, timestamp)", sc.Text())
		}
		ids = append(ids, *row.ID)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// exactly checks that ids are from..from+n-1, each once.
func exactly(t testing.TB, ids []int64, from, n int) {
	t.Helper()
	if len(ids) != n {
		dups := 0
		for i := 1; i < len(ids); i++ {
			if ids[i] == ids[i-1] {
				dups++
			}
		}
		t.Fatalf("output has %d rows (%d repeated), want %d", len(ids), dups, n)
	}
	for i, id := range ids {
		if id != int64(from+i) {
			t.Fatalf("output row %d has id %d, want %d: rows lost or repeated", i, id, from+i)
		}
	}
}

func TestMillionMessagesToJSONLines(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 1_000_000
	start := time.Now()
	produceJSON(t, rdb, topic, 4, n, 0)
	t.Logf("produced %d messages over 4 partitions in %s", n, time.Since(start).Round(time.Millisecond))
	opts := engineOptions(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	start = time.Now()
	res, err := engine.New(opts).Run(context.Background(), toJSONL("million", url, topic, "million", "", out, 2), "run-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("flow read %d rows in %s", res.Stats.RowsRead, time.Since(start).Round(time.Millisecond))
	if res.Stats.RowsRead != n || res.Stats.RowsWritten != n || res.Stats.RowsRejected != 0 {
		t.Fatalf("stats = %+v, want exactly %d read and written", res.Stats, n)
	}
	exactly(t, readIDs(t, out), 0, n)
	if p := pendingCount(t, rdb, topic, "million"); p != 0 {
		t.Fatalf("%d entries left pending after the final checkpoint: XACK missing", p)
	}
}

// Flows in different groups each read everything; flows in one group (with
// different consumer names) share the entries: together exactly once.
func TestConsumerGroups(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 20000
	produceJSON(t, rdb, topic, 4, n, 0)
	opts := engineOptions(t)
	dir := t.TempDir()
	type run struct {
		name, group, consumer string
	}
	runs := []run{{"group-a", "a", "adf"}, {"group-b", "b", "adf"}, {"shared-1", "s", "one"}, {"shared-2", "s", "two"}}
	var wg sync.WaitGroup
	errs := make([]error, len(runs))
	for i, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := toJSONL(r.name, url, topic, r.group, fmt.Sprintf(`, "consumer": %q, "batch_size": 200`, r.consumer), filepath.Join(dir, r.name+".jsonl"), 2)
			_, errs[i] = engine.New(opts).Run(context.Background(), f, "run-"+r.name)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("flow %s: %v", runs[i].name, err)
		}
	}
	exactly(t, readIDs(t, filepath.Join(dir, "group-a.jsonl")), 0, n)
	exactly(t, readIDs(t, filepath.Join(dir, "group-b.jsonl")), 0, n)
	one, two := readIDs(t, filepath.Join(dir, "shared-1.jsonl")), readIDs(t, filepath.Join(dir, "shared-2.jsonl"))
	t.Logf("group s: consumer one read %d, consumer two read %d", len(one), len(two))
	all := append(one, two...)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	exactly(t, all, 0, n)
	for _, g := range []string{"a", "b", "s"} {
		if p := pendingCount(t, rdb, topic, g); p != 0 {
			t.Errorf("group %s: %d entries left pending", g, p)
		}
	}
}

// Kill -9 the source plugin after the first checkpoint: the attempt
// restarts from the checkpoint, the reader re-reads its own pending
// entries after the checkpointed positions, and the (atomic) file output
// holds every message exactly once.
func TestKillSourceMidRun(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 300_000
	produceJSON(t, rdb, topic, 4, n, 0)
	opts := engineOptions(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	var mu sync.Mutex
	var pids []int
	killed := 0
	opts.OnEvent = func(ev engine.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case "plugin_started":
			if ev.Role == "source" {
				pids = append(pids, ev.Pid)
			}
		case "checkpoint":
			if ev.Checkpoint.ID == 1 && !ev.Checkpoint.Final && killed == 0 {
				killed = pids[0]
				if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
					t.Errorf("kill %d: %v", killed, err)
				}
			}
		}
	}
	f := toJSONL("killed", url, topic, "killed", `, "batch_size": 1000`, out, 2)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(150 * time.Millisecond)}
	res, err := engine.New(opts).Run(context.Background(), f, "run-kill")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if killed == 0 {
		t.Fatal("the source was never killed: the run ended before its first checkpoint")
	}
	if res.Stats.Restarts < 1 || len(pids) < 2 {
		t.Fatalf("expected a restart with a new source process, got restarts=%d pids=%v", res.Stats.Restarts, pids)
	}
	if res.Stats.RowsRead != n || res.Stats.RowsWritten != n {
		t.Fatalf("stats = %+v, want exactly %d read and written", res.Stats, n)
	}
	exactly(t, readIDs(t, out), 0, n)
	if p := pendingCount(t, rdb, topic, "killed"); p != 0 {
		t.Fatalf("%d entries left pending", p)
	}
}

// Restart Redis mid-run: the readers retry with backoff until it is back
// and the run completes with every message once.
//
// services.sh restarts Redis with persistence off (--save ” --appendonly
// no), so a restart would lose the data; the test therefore runs SAVE on
// its private Redis right before the restart, and the restarted server
// loads dump.rdb from the same --dir. Reads after the SAVE are rolled back
// by the restart: Redis delivers those entries again, and the reader
// drops ids at or before what it read already.
func TestRedisRestartMidRun(t *testing.T) {
	priv := testkit.NewPrivate(t, "rafka-restart", 37)
	url := priv.RedisURL()
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 300_000
	produceJSON(t, rdb, topic, 4, n, 0)
	if err := rdb.Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	opts := engineOptions(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	var restarted, finalAfterRestart atomic.Bool
	var once sync.Once
	done := make(chan struct{})
	opts.OnEvent = func(ev engine.Event) {
		if ev.Kind != "checkpoint" {
			return
		}
		if ev.Checkpoint.Final {
			finalAfterRestart.Store(restarted.Load())
			return
		}
		once.Do(func() {
			go func() {
				defer close(done)
				if err := rdb.Save(context.Background()).Err(); err != nil {
					t.Errorf("SAVE: %v", err)
				}
				priv.RestartRedis()
				restarted.Store(true)
			}()
		})
	}
	f := toJSONL("restart", url, topic, "restart", `, "batch_size": 200`, out, 2)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(100 * time.Millisecond)}
	start := time.Now()
	res, err := engine.New(opts).Run(context.Background(), f, "run-restart")
	<-done
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run with a Redis restart took %s, %d restarts of the attempt", time.Since(start).Round(time.Millisecond), res.Stats.Restarts)
	if !finalAfterRestart.Load() {
		t.Fatal("Redis was not restarted before the run ended: make the run longer")
	}
	if res.Stats.RowsRead != n || res.Stats.RowsWritten != n {
		t.Fatalf("stats = %+v, want exactly %d read and written", res.Stats, n)
	}
	exactly(t, readIDs(t, out), 0, n)
}

// The redis_cache sink: keys, values and TTLs in Redis; rows without the
// key attribute are rejected and counted, not fatal.
func TestCacheSinkFlow(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	prefix := uniqueTopic(t, rdb) + ":user:"
	t.Cleanup(func() { deleteKeys(rdb, prefix) })
	dir := t.TempDir()
	in := filepath.Join(dir, "users.jsonl")
	var b []byte
	const n, missing = 1000, 25
	for i := 0; i < n; i++ {
		if i%40 == 7 {
			b = fmt.Appendf(b, `{"user_id": null, "name": "ghost %d", "score": %d}`+"\n", i, i)
			continue
		}
		b = fmt.Appendf(b, `{"user_id": %d, "name": "user %d", "score": %d}`+"\n", i, i, i)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := engineOptions(t)
	f := &flow.Flow{
		Name:    "cache",
		Source:  flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, in))},
		Sink:    flow.Component{Type: "redis_cache", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "key_attribute": "user_id", "key_prefix": %q, "ttl": "10m"}`, url, prefix))},
		OnError: flow.OnErrorSkip,
	}
	res, err := engine.New(opts).Run(context.Background(), f, "run-cache")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.RowsRejected != missing || res.Stats.RowsWritten != n-missing {
		t.Fatalf("stats = %+v, want %d written and %d rejected", res.Stats, n-missing, missing)
	}
	ctx := context.Background()
	keys := scanKeys(t, rdb, prefix)
	if len(keys) != n-missing {
		t.Fatalf("%d keys under %s, want %d", len(keys), prefix, n-missing)
	}
	for i := 0; i < n; i++ {
		key := prefix + fmt.Sprint(i)
		v, err := rdb.Get(ctx, key).Result()
		if i%40 == 7 {
			if err != redis.Nil {
				t.Fatalf("row without user_id stored? %s = %q", key, v)
			}
			continue
		}
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		if want := fmt.Sprintf(`{"user_id":%d,"name":"user %d","score":%d}`, i, i, i); v != want {
			t.Fatalf("%s = %s, want %s", key, v, want)
		}
		if ttl := rdb.TTL(ctx, key).Val(); ttl <= 9*time.Minute || ttl > 10*time.Minute {
			t.Fatalf("TTL of %s = %s, want about 10m", key, ttl)
		}
	}
	// A missing attribute column (not just null values) rejects every row.
	f.Name = "cache-missing"
	f.Sink.Config = json.RawMessage(fmt.Sprintf(`{"url": %q, "key_attribute": "uid", "key_prefix": %q}`, url, prefix+"x:"))
	res, err = engine.New(opts).Run(context.Background(), f, "run-cache-missing")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.RowsRejected != n || res.Stats.RowsWritten != 0 {
		t.Fatalf("stats = %+v, want all %d rows rejected", res.Stats, n)
	}
}

// Continuous mode: the flow keeps reading new messages, picks up a
// partition added while running, and a stop takes a final checkpoint.
func TestContinuousWithNewPartition(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	produceJSON(t, rdb, topic, 2, 1000, 0)
	opts := engineOptions(t)
	stop := make(chan struct{})
	opts.Stop = stop
	var read atomic.Int64
	opts.OnEvent = func(ev engine.Event) {
		if ev.Kind == "checkpoint" {
			read.Store(ev.Checkpoint.Stats.RowsRead)
		}
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	f := toJSONL("continuous", url, topic, "cont", "", out, 2)
	src := fmt.Sprintf(`{"url": %q, "topic": %q, "group": "cont", "format": "json", "discover_interval": "200ms", "block": "100ms"}`, url, topic)
	f.Source.Config = json.RawMessage(src)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(100 * time.Millisecond)}
	type result struct {
		res engine.Result
		err error
	}
	resc := make(chan result, 1)
	go func() {
		res, err := engine.New(opts).Run(context.Background(), f, "run-cont")
		resc <- result{res, err}
	}()
	waitFor := func(rows int64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for read.Load() < rows {
			if time.Now().After(deadline) {
				t.Fatalf("continuous flow read %d rows, want %d", read.Load(), rows)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(1000)
	produceJSON(t, rdb, topic, 2, 500, 1000) // new messages, existing partitions
	waitFor(1500)
	produceJSON(t, rdb, topic, 3, 600, 1500) // grows the topic to 3 partitions
	if n := rdb.XLen(context.Background(), rafka.StreamKey(topic, 2)).Val(); n == 0 {
		t.Fatal("no message went to the new partition")
	}
	waitFor(2100)
	close(stop)
	r := <-resc
	if r.err != nil {
		t.Fatal(r.err)
	}
	exactly(t, readIDs(t, out), 0, 2100)
	if p := pendingCount(t, rdb, topic, "cont"); p != 0 {
		t.Fatalf("%d entries left pending after the final checkpoint", p)
	}
}

// rafka → rafka: a flow copies a topic into another (created by the sink,
// partitioned by the key column); the copy holds every message once, keyed
// to the partition FNV-1a picks.
func TestTopicToTopic(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	in, out := uniqueTopic(t, rdb), uniqueTopic(t, rdb)
	const n = 10000
	produceJSON(t, rdb, in, 3, n, 0)
	f := &flow.Flow{
		Name: "copy",
		Source: flow.Component{Type: "rafka", Config: json.RawMessage(fmt.Sprintf(
			`{"url": %q, "topic": %q, "group": "copy", "format": "json", "mode": "available_now"}`, url, in))},
		Parallelism: 2,
		Sink: flow.Component{Type: "rafka", Config: json.RawMessage(fmt.Sprintf(
			`{"url": %q, "topic": %q, "partitions": 5, "key_column": "name", "maxlen": 100000}`, url, out))},
	}
	res, err := engine.New(engineOptions(t)).Run(ctx, f, "run-copy")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.RowsWritten != n {
		t.Fatalf("stats = %+v, want %d written", res.Stats, n)
	}
	c, err := rafka.NewConsumer(ctx, rdb, out, "check", "c", rafka.ConsumerOptions{Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for {
		es, err := c.Poll(ctx, -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			var row struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			}
			if err := json.Unmarshal(e.Value, &row); err != nil {
				t.Fatalf("value %q: %v", e.Value, err)
			}
			if !e.HasKey || e.Key != row.Name || e.Partition != rafka.PartitionFor(row.Name, 5) {
				t.Fatalf("entry %+v: want key %q in partition %d", e, row.Name, rafka.PartitionFor(row.Name, 5))
			}
			ids = append(ids, row.ID)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	exactly(t, ids, 0, n)
}

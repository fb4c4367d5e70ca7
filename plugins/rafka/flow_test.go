package rafkaplugin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// rafkaPlugin is the package of the plugin binary the flow tests run.
const rafkaPlugin = "plugins/rafka/cmd/adf-plugin-rafka"

// newADF is an adf installation with the real file and rafka plugin
// binaries: the flow tests run flows through the adf binary, the way a
// user does.
func newADF(t testing.TB) *testkit.ADF {
	t.Helper()
	return testkit.NewADF(t, testkit.FilePlugin, rafkaPlugin)
}

// flowDoc is the flow document of f (JSON, which adf reads as YAML).
func flowDoc(t testing.TB, f *flow.Flow) string {
	t.Helper()
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runFlow runs f once with `adf run`, failing the test unless it succeeds;
// it returns the run summary and the command's output.
func runFlow(t testing.TB, a *testkit.ADF, f *flow.Flow) (testkit.Summary, testkit.Result) {
	t.Helper()
	return a.RunFlow(t, f.Name, flowDoc(t, f))
}

// startFlow starts `adf run` of f in the background.
func startFlow(t testing.TB, a *testkit.ADF, f *flow.Flow) *testkit.Process {
	t.Helper()
	return a.Start(t, "run", "--progress", "none", a.WriteFlow(t, f.Name, flowDoc(t, f)))
}

// succeeded checks that an adf run ended with exit code 0 and returns its
// summary.
func succeeded(t testing.TB, r testkit.Result) testkit.Summary {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("adf run failed\n%s", r)
	}
	return r.Summary(t)
}

// savedCheckpoint is one "checkpoint saved" line of the host's debug log
// (ADF_LOG_LEVEL=debug).
type savedCheckpoint struct {
	ID, RowsRead, RowsWritten int64
	Final                     bool
	// At is the offset of the line in the log.
	At int
}

var checkpointSavedRE = regexp.MustCompile(`checkpoint saved: [^\n]*? id=(\d+) rows_read=(\d+) rows_written=(\d+) final=(true|false)`)

// savedCheckpoints lists the checkpoints a debug log says were saved, in
// order.
func savedCheckpoints(log string) []savedCheckpoint {
	var out []savedCheckpoint
	for _, m := range checkpointSavedRE.FindAllStringSubmatchIndex(log, -1) {
		n := func(i int) int64 {
			v, _ := strconv.ParseInt(log[m[2*i]:m[2*i+1]], 10, 64)
			return v
		}
		out = append(out, savedCheckpoint{ID: n(1), RowsRead: n(2), RowsWritten: n(3), Final: log[m[8]:m[9]] == "true", At: m[0]})
	}
	return out
}

var sourceStartedRE = regexp.MustCompile(`plugin started: .*role=source pid=(\d+)`)

// sourcePids lists the pids of every source plugin process a debug log says
// was started, restarted attempts included.
func sourcePids(log string) []int {
	var pids []int
	for _, m := range sourceStartedRE.FindAllStringSubmatch(log, -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
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
	a := newADF(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	start = time.Now()
	sum, _ := runFlow(t, a, toJSONL("million", url, topic, "million", "", out, 2))
	t.Logf("flow read %d rows in %s (adf process included)", sum.Read, time.Since(start).Round(time.Millisecond))
	if sum.Read != n || sum.Written != n || sum.Rejected != 0 {
		t.Fatalf("summary = %+v, want exactly %d read and written", sum, n)
	}
	exactly(t, readIDs(t, out), 0, n)
	if p := pendingCount(t, rdb, topic, "million"); p != 0 {
		t.Fatalf("%d entries left pending after the final checkpoint: XACK missing", p)
	}
}

// Flows in different groups each read everything; flows in one group (with
// different consumer names) share the entries: together exactly once. The
// four flows run at the same time, as four adf processes.
func TestConsumerGroups(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 20000
	produceJSON(t, rdb, topic, 4, n, 0)
	a := newADF(t)
	dir := t.TempDir()
	type run struct {
		name, group, consumer string
	}
	runs := []run{{"group-a", "a", "adf"}, {"group-b", "b", "adf"}, {"shared-1", "s", "one"}, {"shared-2", "s", "two"}}
	procs := make([]*testkit.Process, len(runs))
	for i, r := range runs {
		f := toJSONL(r.name, url, topic, r.group, fmt.Sprintf(`, "consumer": %q, "batch_size": 200`, r.consumer), filepath.Join(dir, r.name+".jsonl"), 2)
		procs[i] = startFlow(t, a, f)
	}
	for i, p := range procs {
		r := p.Wait(t, 5*time.Minute)
		if r.Code != 0 {
			t.Fatalf("flow %s failed\n%s", runs[i].name, r)
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

// Kill -9 the source plugin after the first checkpoint is saved (before
// the sink commits it: ADF_FAULT=saved@1:source): the attempt restarts from
// the checkpoint, the reader re-reads its own pending entries after the
// checkpointed positions, and the (atomic) file output holds every message
// exactly once.
func TestKillSourceMidRun(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 300_000
	produceJSON(t, rdb, topic, 4, n, 0)
	a := newADF(t)
	a.Env = append(a.Env, "ADF_LOG_LEVEL=debug", "ADF_FAULT=saved@1:source")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	f := toJSONL("killed", url, topic, "killed", `, "batch_size": 1000`, out, 2)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(150 * time.Millisecond)}
	sum, res := runFlow(t, a, f)
	log := res.Stderr
	if !strings.Contains(log, "fault injection: killing a process") {
		t.Fatalf("the source was never killed\n%s", log)
	}
	cps := savedCheckpoints(log)
	if len(cps) == 0 || cps[0].ID != 1 || cps[0].Final {
		t.Fatalf("the run ended before its first checkpoint, the source was killed at the final one: checkpoints %+v", cps)
	}
	pids := sourcePids(log)
	if sum.Restarts < 1 || len(pids) < 2 || pids[0] == pids[len(pids)-1] {
		t.Fatalf("expected a restart with a new source process, got restarts=%d source pids=%v", sum.Restarts, pids)
	}
	if sum.Read != n || sum.Written != n {
		t.Fatalf("summary = %+v, want exactly %d read and written", sum, n)
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
	priv := testkit.NewPrivate(t, "rafka-restart", 37, testkit.RedisOnly())
	url := priv.RedisURL()
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 300_000
	produceJSON(t, rdb, topic, 4, n, 0)
	if err := rdb.Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	a := newADF(t)
	a.Env = append(a.Env, "ADF_LOG_LEVEL=debug")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	f := toJSONL("restart", url, topic, "restart", `, "batch_size": 200`, out, 2)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(100 * time.Millisecond)}
	start := time.Now()
	p := startFlow(t, a, f)
	// The first checkpoint (not the final one) starts the restart.
	testkit.WaitFor(t, time.Minute, "the first checkpoint", func() bool {
		return len(savedCheckpoints(p.Stderr())) > 0
	}, p.Stderr)
	if cps := savedCheckpoints(p.Stderr()); cps[0].Final {
		t.Fatal("Redis was not restarted before the run ended: make the run longer")
	}
	if err := rdb.Save(context.Background()).Err(); err != nil {
		t.Fatalf("SAVE: %v", err)
	}
	priv.RestartRedis()
	restartedAt := len(p.Stderr())
	sum := succeeded(t, p.Wait(t, 5*time.Minute))
	t.Logf("run with a Redis restart took %s, %d restarts of the attempt", time.Since(start).Round(time.Millisecond), sum.Restarts)
	cps := savedCheckpoints(p.Stderr())
	if last := cps[len(cps)-1]; !last.Final || last.At < restartedAt {
		t.Fatal("Redis was not restarted before the run ended: make the run longer")
	}
	if sum.Read != n || sum.Written != n {
		t.Fatalf("summary = %+v, want exactly %d read and written", sum, n)
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
	a := newADF(t)
	f := &flow.Flow{
		Name:    "cache",
		Source:  flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, in))},
		Sink:    flow.Component{Type: "redis_cache", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "key_attribute": "user_id", "key_prefix": %q, "ttl": "10m"}`, url, prefix))},
		OnError: flow.OnErrorSkip,
	}
	sum, _ := runFlow(t, a, f)
	if sum.Rejected != missing || sum.Written != n-missing {
		t.Fatalf("summary = %+v, want %d written and %d rejected", sum, n-missing, missing)
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
	sum, _ = runFlow(t, a, f)
	if sum.Rejected != n || sum.Written != 0 {
		t.Fatalf("summary = %+v, want all %d rows rejected", sum, n)
	}
}

// Continuous mode: the flow keeps reading new messages, picks up a
// partition added while running, and a stop (SIGINT to adf run) takes a
// final checkpoint.
func TestContinuousWithNewPartition(t *testing.T) {
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	produceJSON(t, rdb, topic, 2, 1000, 0)
	a := newADF(t)
	a.Env = append(a.Env, "ADF_LOG_LEVEL=debug")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	f := toJSONL("continuous", url, topic, "cont", "", out, 2)
	src := fmt.Sprintf(`{"url": %q, "topic": %q, "group": "cont", "format": "json", "discover_interval": "200ms", "block": "100ms"}`, url, topic)
	f.Source.Config = json.RawMessage(src)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(100 * time.Millisecond)}
	p := startFlow(t, a, f)
	// read is the rows read up to the last saved checkpoint.
	read := func() int64 {
		cps := savedCheckpoints(p.Stderr())
		if len(cps) == 0 {
			return 0
		}
		return cps[len(cps)-1].RowsRead
	}
	waitFor := func(rows int64) {
		t.Helper()
		testkit.WaitFor(t, 60*time.Second, fmt.Sprintf("%d rows read", rows), func() bool { return read() >= rows },
			func() string { return fmt.Sprintf("continuous flow read %d rows\n%s", read(), p.Stderr()) })
	}
	waitFor(1000)
	produceJSON(t, rdb, topic, 2, 500, 1000) // new messages, existing partitions
	waitFor(1500)
	produceJSON(t, rdb, topic, 3, 600, 1500) // grows the topic to 3 partitions
	if n := rdb.XLen(context.Background(), rafka.StreamKey(topic, 2)).Val(); n == 0 {
		t.Fatal("no message went to the new partition")
	}
	waitFor(2100)
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	res := p.Wait(t, time.Minute)
	sum := succeeded(t, res)
	cps := savedCheckpoints(res.Stderr)
	if last := cps[len(cps)-1]; !last.Final {
		t.Fatalf("the stop took no final checkpoint: last saved %+v", last)
	}
	if sum.Read != 2100 || sum.Written != 2100 {
		t.Fatalf("summary = %+v, want 2100 read and written", sum)
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
	sum, _ := runFlow(t, newADF(t), f)
	if sum.Written != n {
		t.Fatalf("summary = %+v, want %d written", sum, n)
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

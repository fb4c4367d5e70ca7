package rafkaplugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// topicSink appends rows to a topic exactly once, in two phases:
//
//   - Write encodes the rows, each with its partition (key hash or round
//     robin, decided here), into chunks of at most 1000 messages and appends
//     them to this attempt's stage stream in Redis; nothing is visible in
//     the topic yet.
//   - Flush(N) renames the stage stream to the checkpoint's own name (one
//     MULTI with the staging index update) and returns it as the
//     committable: the pre-commit is as durable as Redis is.
//   - Commit(N) publishes the stage stream chunk by chunk with one Lua
//     script call per chunk, each atomically XADDing the chunk's messages
//     to the partition streams (with the configured MAXLEN/MINID trimming)
//     and advancing the run's commit marker; the last call deletes the
//     stage stream. A repeated or resumed Commit continues at the marker, so
//     no message is published twice, and each call blocks Redis for one
//     chunk only.
//   - Open(restored K) deletes this run's stage streams not covered by K:
//     those of later checkpoints and every attempt's unflushed writes.
type topicSink struct {
	cfg  *SinkConfig
	rdb  *redis.Client
	prod *rafka.Producer
	init sdk.SinkInit

	index, commits, prefix, marker string
	// tmpKey is this attempt's stage stream for writes since the last Flush.
	tmpKey string
	// indexed: tmpKey is listed in the staging index.
	indexed bool
	chunk   chunkWriter
	full    [][]byte // encoded chunks not yet appended to tmpKey
	staged  int      // chunks in tmpKey
	trim    []any    // MAXLEN|MINID, ~, threshold; empty without retention
	// last is the committable of the last Flush, for a host that commits
	// with a bare checkpoint notification.
	last *committable

	rows, bytes int64
	// column indexes for the current schema
	schema          *arrow.Schema
	keyIdx, valIdx  int
	hdrIdx          []int
	hdrNames        [][]byte
	enc             *rowEncoder
	fields          [][]byte
	cellBuf, rowBuf []byte
}

// committable is what Flush hands the host and Commit publishes.
type committable struct {
	Checkpoint int64 `json:"checkpoint"`
	// Stage is the stage stream; empty when the checkpoint wrote nothing.
	Stage string `json:"stage,omitempty"`
	// Marker is the commits hash field of the run.
	Marker string `json:"marker,omitempty"`
	Chunks int    `json:"chunks,omitempty"`
	Rows   int64  `json:"rows,omitempty"`
	// Partitions is the topic's partition count when the rows were
	// partitioned.
	Partitions int `json:"partitions,omitempty"`
}

// sinkState is the writer state kept in a checkpoint.
type sinkState struct {
	// Checkpoint is the id of the Flush that produced the state.
	Checkpoint int64 `json:"checkpoint"`
}

func newTopicSink(cfg *SinkConfig) (*topicSink, error) { return &topicSink{cfg: cfg}, nil }

// Open implements sdk.Sink: connects, creates the topic when partitions is
// set and it does not exist, and discards what this run staged beyond the
// restored checkpoint.
func (s *topicSink) Open(ctx context.Context, init sdk.SinkInit) error {
	s.init = init
	rdb, err := newClient(s.cfg.URL)
	if err != nil {
		return err
	}
	s.rdb = rdb
	if s.cfg.Partitions > 0 {
		if err := rafka.CreateTopic(ctx, rdb, s.cfg.Topic, s.cfg.Partitions, true); err != nil {
			return redisError("rafka sink: open topic "+s.cfg.Topic, s.cfg.URL, err)
		}
	}
	s.prod, err = rafka.NewProducer(ctx, rdb, s.cfg.Topic, rafka.ProducerOptions{MaxLen: s.cfg.MaxLen, MinID: s.cfg.MinID, PipelineSize: s.cfg.BatchSize})
	if errors.Is(err, rafka.ErrNoTopic) {
		return &sdk.Error{Code: sdk.CodeNotFound, Field: "topic", Summary: fmt.Sprintf("topic %q does not exist", s.cfg.Topic),
			Detail: "set partitions: N in the sink config to create it"}
	}
	if err != nil {
		return redisError("rafka sink: open topic "+s.cfg.Topic, s.cfg.URL, err)
	}
	switch {
	case s.cfg.MaxLen > 0:
		s.trim = []any{"MAXLEN", "~", s.cfg.MaxLen}
	case s.cfg.MinID != "":
		s.trim = []any{"MINID", "~", s.cfg.MinID}
	}
	topic := s.cfg.Topic
	s.index, s.commits = stagingIndexKey(topic), commitsKey(topic)
	s.prefix, s.marker = stagePrefix(topic, init.Flow, init.RunID), runName(init.Flow, init.RunID)
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	s.tmpKey = s.prefix + "w-" + hex.EncodeToString(nonce)
	if err := commitScript.Load(ctx, rdb).Err(); err != nil {
		return redisError("rafka sink: load the commit script into Redis", s.cfg.URL, err)
	}
	restored := init.RestoredCheckpointID
	if len(init.RestoredState) > 0 {
		var st sinkState
		if err := json.Unmarshal(init.RestoredState, &st); err != nil {
			return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("rafka sink: restored state %q is not the state this sink writes: %v", init.RestoredState, err),
				Detail: "the checkpoint was written by another sink; start the flow from scratch", Err: err}
		}
		// A host that does not send the restored id still restores the
		// state of that checkpoint's Flush.
		restored = max(restored, st.Checkpoint)
	}
	return s.discardStaged(ctx, restored)
}

// discardStaged deletes the stage streams of this run that no durable
// checkpoint covers: those of checkpoints after restored, and the unflushed
// writes of earlier attempts. A restored checkpoint's own stream is kept for
// its Commit.
func (s *topicSink) discardStaged(ctx context.Context, restored int64) error {
	members, err := s.rdb.ZRangeByLex(ctx, s.index, &redis.ZRangeBy{Min: "[" + s.prefix, Max: "(" + s.prefix + "\xff"}).Result()
	if err != nil {
		return redisError(fmt.Sprintf("rafka sink: list the staged checkpoints of run %s in %s", s.marker, s.index), s.cfg.URL, err)
	}
	var drop []string
	for _, m := range members {
		if id, ok := stagedCheckpoint(s.prefix, m); ok && id <= restored {
			continue
		}
		drop = append(drop, m)
	}
	if len(drop) == 0 {
		return nil
	}
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, drop...)
	pipe.ZRem(ctx, s.index, toAny(drop)...)
	if _, err := pipe.Exec(ctx); err != nil {
		return redisError(fmt.Sprintf("rafka sink: discard %d stage streams of run %s not covered by checkpoint %d", len(drop), s.marker, restored), s.cfg.URL, err)
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, v := range ss {
		out[i] = v
	}
	return out
}

// bind resolves the configured columns against a batch schema.
func (s *topicSink) bind(schema *arrow.Schema) error {
	if s.schema != nil && s.schema.Equal(schema) {
		return nil
	}
	s.schema, s.enc = schema, newRowEncoder(schema)
	s.keyIdx, s.valIdx, s.hdrIdx, s.hdrNames = -1, -1, nil, nil
	if s.cfg.KeyColumn != "" {
		if s.keyIdx = fieldIndex(schema, s.cfg.KeyColumn); s.keyIdx < 0 {
			return sdk.ConfigError("key_column", "column %q is not in the data (columns: %v)", s.cfg.KeyColumn, names(schema))
		}
	} else {
		s.keyIdx = fieldIndex(schema, "key")
	}
	if s.cfg.ValueColumn != "" {
		if s.valIdx = fieldIndex(schema, s.cfg.ValueColumn); s.valIdx < 0 {
			return sdk.ConfigError("value_column", "column %q is not in the data (columns: %v)", s.cfg.ValueColumn, names(schema))
		}
	}
	// Headers in name order, as rafka.Producer writes them.
	order := make([]int, len(s.cfg.HeaderColumns))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return s.cfg.HeaderColumns[order[a]] < s.cfg.HeaderColumns[order[b]] })
	for _, i := range order {
		h := s.cfg.HeaderColumns[i]
		idx := fieldIndex(schema, h)
		if idx < 0 {
			return sdk.ConfigError(fmt.Sprintf("header_columns[%d]", i), "column %q is not in the data (columns: %v)", h, names(schema))
		}
		s.hdrIdx = append(s.hdrIdx, idx)
		s.hdrNames = append(s.hdrNames, []byte(h))
	}
	return nil
}

func fieldIndex(schema *arrow.Schema, name string) int {
	idx := schema.FieldIndices(name)
	if len(idx) == 0 {
		return -1
	}
	return idx[0]
}

func names(schema *arrow.Schema) []string {
	out := make([]string, 0, schema.NumFields())
	for _, f := range schema.Fields() {
		out = append(out, f.Name)
	}
	return out
}

var (
	fieldKey   = []byte("key")
	fieldValue = []byte("value")
)

// Write implements sdk.Sink: the rows are partitioned, encoded and staged
// (one XADD of a whole chunk to the stage stream per 1000 rows), not yet
// published.
func (s *topicSink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if err := s.bind(rec.Schema()); err != nil {
		return err
	}
	n := int(rec.NumRows())
	limit := min(s.cfg.BatchSize, stageChunkRows)
	for i := 0; i < n; i++ {
		s.fields = s.fields[:0]
		partition, keyLen := -1, 0
		if s.keyIdx >= 0 {
			kb, ok := cellBytes(s.cellBuf[:0], rec.Column(s.keyIdx), i)
			s.cellBuf = kb
			if ok {
				s.fields = append(s.fields, fieldKey, kb)
				partition, keyLen = rafka.PartitionFor(string(kb), s.prod.Partitions()), len(kb)
			}
		}
		if partition < 0 {
			// No key: round robin, as rafka.Producer does.
			partition = s.prod.PartitionOf(rafka.Message{})
		}
		var v []byte
		switch {
		case s.valIdx >= 0 && s.cfg.Format == FormatRaw:
			v, _ = cellBytes(s.rowBuf[:0], rec.Column(s.valIdx), i)
		case s.valIdx >= 0:
			v = appendJSONValue(s.rowBuf[:0], rec.Column(s.valIdx), i)
		default:
			v = s.enc.row(s.rowBuf[:0], rec, i)
		}
		s.rowBuf = v
		s.fields = append(s.fields, fieldValue, v)
		for j, idx := range s.hdrIdx {
			if hv, ok := cellBytes(nil, rec.Column(idx), i); ok {
				s.fields = append(s.fields, s.hdrNames[j], hv)
			}
		}
		s.bytes += int64(len(v) + keyLen)
		s.chunk.add(partition, s.fields)
		if s.chunk.rows >= limit || len(s.chunk.buf) >= stageChunkBytes {
			s.full = append(s.full, bytes.Clone(s.chunk.bytes()))
			s.chunk.reset()
		}
	}
	s.rows += int64(n)
	return s.stage(ctx)
}

// stage appends the full chunks to this attempt's stage stream, listing it
// in the staging index first (same transaction) so that a later Open finds
// and discards it should the attempt die before its Flush.
func (s *topicSink) stage(ctx context.Context) error {
	if len(s.full) == 0 {
		return nil
	}
	pipe := s.rdb.TxPipeline()
	if !s.indexed {
		pipe.ZAdd(ctx, s.index, redis.Z{Member: s.tmpKey})
	}
	for _, c := range s.full {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.tmpKey, Values: []any{"m", c}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return redisError(fmt.Sprintf("rafka sink: stage %d chunks in %s", len(s.full), s.tmpKey), s.cfg.URL, err)
	}
	s.indexed = true
	s.staged += len(s.full)
	s.full = s.full[:0]
	return nil
}

// Flush implements sdk.Sink, the pre-commit: the rows written since the
// previous Flush are staged in Redis under the checkpoint's name, and the
// committable names them.
func (s *topicSink) Flush(ctx context.Context, checkpointID int64, _ bool) (sdk.FlushResult, error) {
	c := committable{Checkpoint: checkpointID}
	if s.chunk.rows > 0 {
		s.full = append(s.full, bytes.Clone(s.chunk.bytes()))
		s.chunk.reset()
	}
	if chunks := s.staged + len(s.full); chunks > 0 {
		final := s.prefix + strconv.FormatInt(checkpointID, 10)
		pipe := s.rdb.TxPipeline()
		for _, ch := range s.full {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.tmpKey, Values: []any{"m", ch}})
		}
		pipe.Rename(ctx, s.tmpKey, final)
		pipe.ZRem(ctx, s.index, s.tmpKey)
		pipe.ZAdd(ctx, s.index, redis.Z{Member: final})
		if _, err := pipe.Exec(ctx); err != nil {
			return sdk.FlushResult{}, redisError(fmt.Sprintf("rafka sink: stage checkpoint %d as %s", checkpointID, final), s.cfg.URL, err)
		}
		c.Stage, c.Marker, c.Chunks, c.Rows, c.Partitions = final, s.marker, chunks, s.rows, s.prod.Partitions()
	}
	committables, err := json.Marshal(c)
	if err != nil {
		return sdk.FlushResult{}, fmt.Errorf("rafka sink: encode the committable of checkpoint %d: %w", checkpointID, err)
	}
	state, _ := json.Marshal(sinkState{Checkpoint: checkpointID})
	res := sdk.FlushResult{RowsWritten: s.rows, BytesWritten: s.bytes, State: state, Committables: committables}
	s.last = &c
	s.rows, s.bytes, s.staged, s.indexed, s.full = 0, 0, 0, false, s.full[:0]
	return res, nil
}

// Commit implements sdk.Committer: publishes a staged checkpoint (see
// topicSink). Idempotent: a checkpoint already published, wholly or in part,
// continues where the marker says.
func (s *topicSink) Commit(ctx context.Context, req sdk.CommitRequest) error {
	var c committable
	switch {
	case len(req.Committables) > 0:
		if err := json.Unmarshal(req.Committables, &c); err != nil {
			return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("rafka sink: committables of checkpoint %d are not this sink's: %v", req.CheckpointID, err),
				Detail: "the checkpoint was written by another sink; start the flow from scratch", Err: err}
		}
	case s.last != nil && s.last.Checkpoint == req.CheckpointID:
		c = *s.last
	default:
		return nil
	}
	if c.Chunks == 0 {
		return nil
	}
	parts := max(s.prod.Partitions(), c.Partitions)
	keys := make([]string, 0, 3+parts)
	keys = append(keys, s.commits, s.index, c.Stage)
	for p := 0; p < parts; p++ {
		keys = append(keys, rafka.StreamKey(s.cfg.Topic, p))
	}
	args := []any{c.Marker, c.Checkpoint, c.Chunks, 1, "", "", ""}
	if len(s.trim) > 0 {
		args[4], args[5], args[6] = s.trim[0], s.trim[1], s.trim[2]
	}
	// Each call publishes one chunk, so c.Chunks calls finish the commit;
	// more means the marker is not advancing, which must not loop forever.
	for calls, reloaded := 0, false; ; calls += commitCallsPerTrip {
		if calls > c.Chunks+commitCallsPerTrip {
			return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("rafka sink: checkpoint %d from %s is not done after %d commit calls for %d chunks", c.Checkpoint, c.Stage, calls, c.Chunks),
				Detail: "the commit marker in " + s.commits + " field " + c.Marker + " does not advance; report this with the marker's value"}
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, 0, commitCallsPerTrip)
		for i := 0; i < min(commitCallsPerTrip, c.Chunks); i++ {
			cmds = append(cmds, commitScript.EvalSha(ctx, pipe, keys, args...))
		}
		_, err := pipe.Exec(ctx)
		for _, cmd := range cmds {
			res, cerr := cmd.Int64Slice()
			if cerr == nil && len(res) == 2 && res[0] == 1 {
				return nil
			}
			if cerr != nil && err == nil {
				err = cerr
			}
		}
		switch {
		case err == nil:
			continue
		case redis.HasErrorPrefix(err, "NOSCRIPT") && !reloaded:
			// Redis restarted or flushed its scripts since Open.
			if err := commitScript.Load(ctx, s.rdb).Err(); err != nil {
				return redisError("rafka sink: reload the commit script into Redis", s.cfg.URL, err)
			}
			reloaded = true
			continue
		case redis.HasErrorPrefix(err, "ADFSTAGE"):
			return &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("rafka sink: checkpoint %d cannot be published: %v", c.Checkpoint, err),
				Detail: "its staged rows are no longer in Redis as they were flushed (Redis restarted without persistence, or the keys were deleted); enable Redis persistence and rerun the flow from scratch", Err: err}
		}
		return redisError(fmt.Sprintf("rafka sink: publish checkpoint %d from %s to topic %s", c.Checkpoint, c.Stage, s.cfg.Topic), s.cfg.URL, err)
	}
}

// Close implements sdk.Sink: rows written since the last Flush are
// discarded with this attempt's stage stream.
func (s *topicSink) Close(ctx context.Context) error {
	if s.rdb == nil {
		return nil
	}
	if s.indexed {
		// Best effort: the next Open of the run discards it anyway.
		pipe := s.rdb.TxPipeline()
		pipe.Del(ctx, s.tmpKey)
		pipe.ZRem(ctx, s.index, s.tmpKey)
		_, _ = pipe.Exec(ctx)
	}
	return s.rdb.Close()
}

// cacheSink stores each row under key_prefix + key_attribute (SET with
// TTL, pipelined): the cache role. Delivery is idempotent: SET of a key to
// the value it holds changes nothing, so rows an attempt wrote after its
// last checkpoint are written again, to the same values, by the replay of
// the restarted attempt, and the cache converges on exactly the input.
//
// The SETs go out as rows arrive, batch_size per pipelined round trip, and
// the remainder at Flush: Flush is the pre-commit, after which everything
// written is in Redis. Deferring them to Commit would not make the sink
// exactly-once (a cache has no way to hide a write) but would hold a whole
// checkpoint's rows in memory, or in the committables, until then; so
// Commit publishes nothing.
type cacheSink struct {
	cfg  *CacheConfig
	rdb  *redis.Client
	init sdk.SinkInit
	pipe redis.Pipeliner

	queued      int
	rows, bytes int64
	schema      *arrow.Schema
	enc         *rowEncoder
	keyIdx      int
	valIdx      int
}

func newCacheSink(cfg *CacheConfig) (*cacheSink, error) { return &cacheSink{cfg: cfg}, nil }

// Open implements sdk.Sink.
func (s *cacheSink) Open(ctx context.Context, init sdk.SinkInit) error {
	s.init = init
	rdb, err := newClient(s.cfg.URL)
	if err != nil {
		return err
	}
	s.rdb, s.pipe = rdb, rdb.Pipeline()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return redisError("redis_cache: connect", s.cfg.URL, err)
	}
	return nil
}

// Write implements sdk.Sink. A row whose key attribute is missing or null
// is rejected (through SinkInit.Reject); the others are queued and sent
// batch_size SETs per round trip.
func (s *cacheSink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if s.schema == nil || !s.schema.Equal(rec.Schema()) {
		s.schema, s.enc = rec.Schema(), newRowEncoder(rec.Schema())
		s.keyIdx = fieldIndex(s.schema, s.cfg.KeyAttribute)
		s.valIdx = -1
		if s.cfg.ValueColumn != "" {
			if s.valIdx = fieldIndex(s.schema, s.cfg.ValueColumn); s.valIdx < 0 {
				return sdk.ConfigError("value_column", "column %q is not in the data (columns: %v)", s.cfg.ValueColumn, names(s.schema))
			}
		}
	}
	n := int(rec.NumRows())
	var key []byte
	for i := 0; i < n; i++ {
		var ok bool
		if s.keyIdx >= 0 {
			key, ok = cellBytes(append(key[:0], s.cfg.KeyPrefix...), rec.Column(s.keyIdx), i)
		}
		if !ok {
			reason := fmt.Sprintf("key attribute %q is null", s.cfg.KeyAttribute)
			if s.keyIdx < 0 {
				reason = fmt.Sprintf("key attribute %q is missing (columns: %v)", s.cfg.KeyAttribute, names(s.schema))
			}
			if err := s.init.Reject(sdk.Rejected{Raw: s.enc.row(nil, rec, i), Reason: reason}); err != nil {
				return err
			}
			continue
		}
		var val []byte
		if s.valIdx >= 0 {
			val, _ = cellBytes(nil, rec.Column(s.valIdx), i)
		} else {
			val = s.enc.row(nil, rec, i)
		}
		s.pipe.Set(ctx, string(key), val, s.ttl())
		s.queued++
		s.rows++
		s.bytes += int64(len(val))
		if s.queued >= s.cfg.BatchSize {
			if err := s.exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// exec sends the queued SETs.
func (s *cacheSink) exec(ctx context.Context) error {
	if s.queued == 0 {
		return nil
	}
	n := s.queued
	s.queued = 0
	if _, err := s.pipe.Exec(ctx); err != nil {
		return redisError(fmt.Sprintf("redis_cache: %d SETs failed", n), s.cfg.URL, err)
	}
	return nil
}

func (s *cacheSink) ttl() time.Duration {
	if s.cfg.TTL.D() <= 0 {
		return 0
	}
	return s.cfg.TTL.D()
}

// Flush implements sdk.Sink: sends the SETs still queued; once it returns,
// every row written is in Redis.
func (s *cacheSink) Flush(ctx context.Context, _ int64, _ bool) (sdk.FlushResult, error) {
	if err := s.exec(ctx); err != nil {
		return sdk.FlushResult{}, err
	}
	res := sdk.FlushResult{RowsWritten: s.rows, BytesWritten: s.bytes, State: []byte("{}")}
	s.rows, s.bytes = 0, 0
	return res, nil
}

// Commit implements sdk.Committer: nothing to publish, Flush wrote
// everything (see cacheSink); repeating it is harmless.
func (s *cacheSink) Commit(context.Context, sdk.CommitRequest) error { return nil }

// Close implements sdk.Sink. SETs still queued are dropped: they are not
// covered by a checkpoint, and the replay writes them again.
func (s *cacheSink) Close(context.Context) error {
	if s.rdb != nil {
		s.pipe.Discard()
		return s.rdb.Close()
	}
	return nil
}

// discardSink counts rows and drops them (benchmarks, dry runs). It states
// at-least-once, the default: with nothing kept there is nothing to publish
// once, and nothing a repeat could change or duplicate.
type discardSink struct{ rows int64 }

// Open implements sdk.Sink.
func (d *discardSink) Open(context.Context, sdk.SinkInit) error { return nil }

// Write implements sdk.Sink.
func (d *discardSink) Write(_ context.Context, rec arrow.RecordBatch) error {
	d.rows += rec.NumRows()
	return nil
}

// Flush implements sdk.Sink.
func (d *discardSink) Flush(context.Context, int64, bool) (sdk.FlushResult, error) {
	res := sdk.FlushResult{RowsWritten: d.rows}
	d.rows = 0
	return res, nil
}

// NotifyCheckpointComplete implements sdk.Sink.
func (d *discardSink) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.Sink.
func (d *discardSink) Close(context.Context) error { return nil }

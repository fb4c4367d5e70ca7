package rafkaplugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// topicSink appends rows to a topic (XADD, pipelined). Delivery is
// at-least-once: rows are appended as they arrive, so rows written after
// the last checkpoint of a failed attempt are written again by the next one.
type topicSink struct {
	cfg  *SinkConfig
	rdb  *redis.Client
	prod *rafka.Producer
	init sdk.SinkInit

	rows, bytes int64
	// column indexes for the current schema
	schema          *arrow.Schema
	keyIdx, valIdx  int
	hdrIdx          []int
	enc             *rowEncoder
	pending         []rafka.Message
	cellBuf, rowBuf []byte
}

func newTopicSink(cfg *SinkConfig) (*topicSink, error) { return &topicSink{cfg: cfg}, nil }

// Open implements sdk.Sink: connects and creates the topic when
// partitions is set and it does not exist.
func (s *topicSink) Open(ctx context.Context, init sdk.SinkInit) error {
	s.init = init
	rdb, err := newClient(s.cfg.URL)
	if err != nil {
		return err
	}
	s.rdb = rdb
	if s.cfg.Partitions > 0 {
		if err := rafka.CreateTopic(ctx, rdb, s.cfg.Topic, s.cfg.Partitions, true); err != nil {
			return sdk.Transient(err)
		}
	}
	s.prod, err = rafka.NewProducer(ctx, rdb, s.cfg.Topic, rafka.ProducerOptions{MaxLen: s.cfg.MaxLen, MinID: s.cfg.MinID, PipelineSize: s.cfg.BatchSize})
	if errors.Is(err, rafka.ErrNoTopic) {
		return &sdk.Error{Code: sdk.CodeNotFound, Field: "topic", Summary: fmt.Sprintf("topic %q does not exist", s.cfg.Topic),
			Detail: "set partitions: N in the sink config to create it"}
	}
	if err != nil {
		return sdk.Transient(err)
	}
	return nil
}

// bind resolves the configured columns against a batch schema.
func (s *topicSink) bind(schema *arrow.Schema) error {
	if s.schema != nil && s.schema.Equal(schema) {
		return nil
	}
	s.schema, s.enc = schema, newRowEncoder(schema)
	s.keyIdx, s.valIdx, s.hdrIdx = -1, -1, nil
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
	for i, h := range s.cfg.HeaderColumns {
		idx := fieldIndex(schema, h)
		if idx < 0 {
			return sdk.ConfigError(fmt.Sprintf("header_columns[%d]", i), "column %q is not in the data (columns: %v)", h, names(schema))
		}
		s.hdrIdx = append(s.hdrIdx, idx)
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

// Write implements sdk.Sink: one XADD per row, pipelined.
func (s *topicSink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if err := s.bind(rec.Schema()); err != nil {
		return err
	}
	n := int(rec.NumRows())
	s.pending = s.pending[:0]
	for i := 0; i < n; i++ {
		var m rafka.Message
		if s.keyIdx >= 0 {
			var kb []byte
			kb, m.HasKey = cellBytes(s.cellBuf[:0], rec.Column(s.keyIdx), i)
			m.Key = string(kb)
		}
		switch {
		case s.valIdx >= 0 && s.cfg.Format == FormatRaw:
			v, ok := cellBytes(nil, rec.Column(s.valIdx), i)
			if !ok {
				v = []byte{}
			}
			m.Value = v
		case s.valIdx >= 0:
			m.Value = appendJSONValue(nil, rec.Column(s.valIdx), i)
		default:
			m.Value = s.enc.row(nil, rec, i)
		}
		if len(s.hdrIdx) > 0 {
			m.Headers = make(map[string]string, len(s.hdrIdx))
			for j, idx := range s.hdrIdx {
				if v, ok := cellBytes(nil, rec.Column(idx), i); ok {
					m.Headers[s.cfg.HeaderColumns[j]] = string(v)
				}
			}
		}
		s.bytes += int64(len(m.Value) + len(m.Key))
		s.pending = append(s.pending, m)
	}
	if _, err := s.prod.Send(ctx, s.pending...); err != nil {
		return sdk.Transient(fmt.Errorf("rafka sink: %w", err))
	}
	s.rows += int64(n)
	return nil
}

// Flush implements sdk.Sink: every XADD was already acknowledged by Redis.
func (s *topicSink) Flush(context.Context, int64, bool) (sdk.FlushResult, error) {
	res := sdk.FlushResult{RowsWritten: s.rows, BytesWritten: s.bytes, State: []byte("{}")}
	s.rows, s.bytes = 0, 0
	return res, nil
}

// NotifyCheckpointComplete implements sdk.Sink.
func (s *topicSink) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.Sink.
func (s *topicSink) Close(context.Context) error {
	if s.rdb != nil {
		return s.rdb.Close()
	}
	return nil
}

// cacheSink stores each row under key_prefix + key_attribute (SET with
// TTL, pipelined): the cache role. Writing the same rows again overwrites
// them, so a restarted attempt converges on exactly the input.
type cacheSink struct {
	cfg  *CacheConfig
	rdb  *redis.Client
	init sdk.SinkInit

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
	s.rdb = rdb
	if err := rdb.Ping(ctx).Err(); err != nil {
		return sdk.Transient(fmt.Errorf("redis_cache: connect to %s: %w", s.cfg.URL, err))
	}
	return nil
}

// Write implements sdk.Sink. A row whose key attribute is missing or null
// is rejected (through SinkInit.Reject); the others are written.
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
	pipe := s.rdb.Pipeline()
	queued := 0
	exec := func() error {
		if queued == 0 {
			return nil
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return sdk.Transient(fmt.Errorf("redis_cache: SET: %w", err))
		}
		queued = 0
		return nil
	}
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
		pipe.Set(ctx, string(key), val, s.ttl())
		queued++
		s.rows++
		s.bytes += int64(len(val))
		if queued >= s.cfg.BatchSize {
			if err := exec(); err != nil {
				return err
			}
		}
	}
	return exec()
}

func (s *cacheSink) ttl() time.Duration {
	if s.cfg.TTL.D() <= 0 {
		return 0
	}
	return s.cfg.TTL.D()
}

// Flush implements sdk.Sink: every SET was already acknowledged by Redis.
func (s *cacheSink) Flush(context.Context, int64, bool) (sdk.FlushResult, error) {
	res := sdk.FlushResult{RowsWritten: s.rows, BytesWritten: s.bytes, State: []byte("{}")}
	s.rows, s.bytes = 0, 0
	return res, nil
}

// NotifyCheckpointComplete implements sdk.Sink.
func (s *cacheSink) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.Sink.
func (s *cacheSink) Close(context.Context) error {
	if s.rdb != nil {
		return s.rdb.Close()
	}
	return nil
}

// discardSink counts rows and drops them (benchmarks, dry runs).
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

package rafkaplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// Split is one partition of a topic (RafkaSplit). Its position travels in
// it: Position is the id of the last entry emitted from the consumer's own
// deliveries (new entries and its own pending ones); Claimed lists entries
// claimed from other consumers and emitted, not yet acknowledged.
type Split struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	// Position is the last emitted id ("" before the first entry).
	Position string `json:"position,omitempty"`
	// End is, in available_now mode, the partition's last id when the run
	// started: the split is finished once Position reaches it.
	End string `json:"end,omitempty"`
	// Claimed are ids taken over from other consumers (XAUTOCLAIM) and
	// emitted but not yet acknowledged.
	Claimed []string `json:"claimed,omitempty"`
	// Finished marks a split read to its end (available_now) whose entries
	// up to Position may not be acknowledged yet. The reader keeps it in
	// its state until a checkpoint taken after the finish has completed:
	// otherwise a restore of that checkpoint (after a crash between its
	// save and the XACK, typically around the final checkpoint) would have
	// no split left to say what the checkpoint covers, and the last entries
	// would stay pending for ever. A reader given a finished split reads
	// nothing from it: it acknowledges up to Position with the next
	// checkpoint completion and reports the split finished.
	Finished bool `json:"finished,omitempty"`
	// Schema is the JSON schema (format json) shared by all splits of a run.
	Schema []Column `json:"schema,omitempty"`
}

// SplitID implements sdk.Split.
func (s *Split) SplitID() string { return s.Topic + ":" + strconv.Itoa(s.Partition) }

func (s *Split) key() string { return rafka.StreamKey(s.Topic, s.Partition) }

// position renders an entry's place for rejected records.
func (s *Split) position(id string) string { return s.key() + "@" + id }

func (s *Split) clone() *Split {
	c := *s
	c.Claimed = append([]string(nil), s.Claimed...)
	return &c
}

type source struct {
	cfg   *SourceConfig
	start string
}

func newSource(cfg *SourceConfig) (*source, error) {
	start, err := startID(cfg.Start)
	if err != nil {
		return nil, sdk.ConfigError("start", "%v", err)
	}
	return &source{cfg: cfg, start: start}, nil
}

// Boundedness implements sdk.Source: available_now runs end by themselves.
func (s *source) Boundedness() sdk.Boundedness {
	if s.cfg.Mode == ModeAvailableNow {
		return sdk.Bounded
	}
	return sdk.ContinuousUnbounded
}

// DecodeSplit implements sdk.Source.
func (s *source) DecodeSplit(_ string, data []byte) (sdk.Split, error) {
	var sp Split
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("decode rafka split: %w", err)
	}
	return &sp, nil
}

// enumState is the enumerator's checkpoint.
type enumState struct {
	// Known is the number of partitions discovered so far.
	Known   int      `json:"known"`
	Pending []*Split `json:"pending"`
	Schema  []Column `json:"schema,omitempty"`
	// SchemaKnown is set once the JSON schema was given or inferred.
	SchemaKnown bool `json:"schema_known,omitempty"`
}

// CreateEnumerator implements sdk.Source.
func (s *source) CreateEnumerator(ctx sdk.SplitEnumeratorContext) (sdk.SplitEnumerator, error) {
	e := &enumerator{src: s, ctx: ctx, requested: map[int]bool{}}
	if len(s.cfg.Schema) > 0 || s.cfg.Format != FormatJSON {
		e.st.Schema, e.st.SchemaKnown = s.cfg.Schema, true
	}
	return e, nil
}

// RestoreEnumerator implements sdk.Source.
func (s *source) RestoreEnumerator(ctx sdk.SplitEnumeratorContext, state []byte) (sdk.SplitEnumerator, error) {
	e := &enumerator{src: s, ctx: ctx, requested: map[int]bool{}, restored: true}
	if err := json.Unmarshal(state, &e.st); err != nil {
		return nil, fmt.Errorf("restore rafka enumerator: %w", err)
	}
	return e, nil
}

// CreateReader implements sdk.Source.
func (s *source) CreateReader(ctx sdk.SourceReaderContext) (sdk.SourceReader, error) {
	return newReader(s, ctx)
}

// enumerator discovers the topic's partitions (RafkaSplitEnumerator) and
// gives each to exactly one reader: partition p goes to reader
// p mod parallelism. In continuous mode it keeps watching the topic's
// partition count and hands out partitions added while running.
type enumerator struct {
	src       *source
	ctx       sdk.SplitEnumeratorContext
	rdb       *redis.Client
	st        enumState
	requested map[int]bool
	restored  bool
	failures  int
}

// Start implements sdk.SplitEnumerator.
func (e *enumerator) Start(ctx context.Context) error {
	rdb, err := newClient(e.src.cfg.URL)
	if err != nil {
		return err
	}
	e.rdb = rdb
	if !e.restored {
		found, err := e.discover(ctx)
		if err != nil {
			return redisError("rafka source: discover the partitions of topic "+e.src.cfg.Topic, e.src.cfg.URL, err)
		}
		if !found && e.src.cfg.Mode == ModeAvailableNow {
			return &sdk.Error{Code: sdk.CodeNotFound, Field: "topic", Summary: fmt.Sprintf("topic %q does not exist (no %s)", e.src.cfg.Topic, rafka.MetaKey(e.src.cfg.Topic)),
				Detail: "create it with a rafka sink (partitions: N), the rafka Go package, or HSET " + rafka.MetaKey(e.src.cfg.Topic) + " partitions N"}
		}
	}
	if e.src.cfg.Mode == ModeContinuous {
		e.ctx.CallPeriodically(e.src.cfg.Discover.D(), func(ctx context.Context) error {
			if _, err := e.discover(ctx); err != nil {
				// Redis may be restarting: keep going, fail only after
				// a minute of consecutive failures.
				e.failures++
				if e.failures*int(e.src.cfg.Discover.D()) > int(e.src.cfg.RetryLimit.D()) {
					return redisError("rafka source: discover the partitions of topic "+e.src.cfg.Topic, e.src.cfg.URL, err)
				}
				return nil
			}
			e.failures = 0
			return e.assign()
		})
	}
	return nil
}

// discover reads the partition count and plans splits for partitions not
// seen yet. It reports whether the topic exists.
func (e *enumerator) discover(ctx context.Context) (bool, error) {
	cfg := e.src.cfg
	n, err := rafka.Partitions(ctx, e.rdb, cfg.Topic)
	if errors.Is(err, rafka.ErrNoTopic) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	first := e.st.Known == 0 && !e.restored
	for p := e.st.Known; p < n; p++ {
		// Partitions added while running start at their beginning:
		// everything in them is new.
		start := "0"
		if first {
			start = e.src.start
		}
		if err := rafka.EnsureGroup(ctx, e.rdb, cfg.Topic, p, cfg.Group, start); err != nil {
			return true, err
		}
		sp := &Split{Topic: cfg.Topic, Partition: p}
		if cfg.Mode == ModeAvailableNow {
			if sp.End, err = rafka.LastID(ctx, e.rdb, cfg.Topic, p); err != nil {
				return true, err
			}
		}
		e.st.Pending = append(e.st.Pending, sp)
	}
	if n > e.st.Known {
		e.st.Known = n
	}
	if !e.st.SchemaKnown {
		if err := e.infer(ctx); err != nil {
			return true, err
		}
	}
	return true, nil
}

// infer samples the first entries of every partition for the JSON schema.
func (e *enumerator) infer(ctx context.Context) error {
	var values [][]byte
	for p := 0; p < e.st.Known; p++ {
		msgs, err := e.rdb.XRangeN(ctx, rafka.StreamKey(e.src.cfg.Topic, p), "-", "+", int64(e.src.cfg.InferRows)).Result()
		if err != nil {
			return fmt.Errorf("sample %s: %w", rafka.StreamKey(e.src.cfg.Topic, p), err)
		}
		for _, m := range msgs {
			if v, ok := m.Values["value"].(string); ok {
				values = append(values, []byte(v))
			}
		}
	}
	cols := inferSchema(values)
	if len(cols) > 0 || e.src.cfg.Mode == ModeAvailableNow {
		// available_now reads only what exists: no entries, no columns.
		e.st.Schema, e.st.SchemaKnown = cols, true
	}
	return nil
}

// owner is the reader a partition belongs to.
func (e *enumerator) owner(p int) int {
	par := e.ctx.Parallelism()
	if par <= 0 {
		par = 1
	}
	return p % par
}

// assign hands pending splits to their owners once those asked for work
// (and, with format json, once the schema is known).
func (e *enumerator) assign() error {
	if !e.st.SchemaKnown {
		return nil
	}
	var keep []*Split
	out := map[int][]sdk.Split{}
	for _, sp := range e.st.Pending {
		o := e.owner(sp.Partition)
		if !e.requested[o] {
			keep = append(keep, sp)
			continue
		}
		sp.Schema = e.st.Schema
		out[o] = append(out[o], sp)
	}
	e.st.Pending = keep
	if len(out) == 0 {
		return nil
	}
	return e.ctx.AssignSplits(out)
}

// HandleSplitRequest implements sdk.SplitEnumerator: the reader gets every
// partition it owns; in available_now mode it is then told that no more
// will come.
func (e *enumerator) HandleSplitRequest(_ context.Context, readerID int, _ string) error {
	e.requested[readerID] = true
	if err := e.assign(); err != nil {
		return err
	}
	if e.src.cfg.Mode == ModeAvailableNow {
		return e.ctx.SignalNoMoreSplits(readerID)
	}
	return nil
}

// AddSplitsBack implements sdk.SplitEnumerator.
func (e *enumerator) AddSplitsBack(_ context.Context, splits []sdk.Split, _ int) error {
	for _, s := range splits {
		e.st.Pending = append(e.st.Pending, s.(*Split))
	}
	return e.assign()
}

// AddReader implements sdk.SplitEnumerator.
func (e *enumerator) AddReader(context.Context, int) error { return nil }

// SnapshotState implements sdk.SplitEnumerator.
func (e *enumerator) SnapshotState(context.Context, int64) ([]byte, error) {
	return json.Marshal(e.st)
}

// NotifyCheckpointComplete implements sdk.SplitEnumerator.
func (e *enumerator) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.SplitEnumerator.
func (e *enumerator) Close() error {
	if e.rdb != nil {
		return e.rdb.Close()
	}
	return nil
}

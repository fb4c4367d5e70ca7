// Package sequence is an example ADF plugin written only against the SDK: a
// bounded source that generates the integers [0, count) in range splits, and
// a transform that adds a computed column. Copy it to start a plugin.
package sequence

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/activedataflow/adf/sdk"
)

// Config of the sequence source.
type Config struct {
	Count     int64 `json:"count" jsonschema:"required,minimum=0,description=how many numbers to generate"`
	Splits    int   `json:"splits,omitempty" jsonschema:"minimum=1,description=how many range splits (default 4)"`
	BatchSize int   `json:"batch_size,omitempty" jsonschema:"minimum=1,description=rows per batch (default 1000)"`
}

// Defaults implements sdk.Defaulter.
func (c *Config) Defaults() { c.Splits, c.BatchSize = 4, 1000 }

// Plugin returns the example plugin.
func Plugin() sdk.Plugin {
	jobs := &inlineJobs{jobs: map[string]*sdk.RuntimeStatus{}}
	return sdk.Plugin{
		Name:    "sequence",
		Version: "0.1.0",
		Components: []sdk.Component{
			sdk.NewSource("sequence", "generates the numbers 0..count-1 (example plugin)",
				sdk.Capabilities{Bounded: true, Checkpointing: true},
				func(cfg *Config) (sdk.Source, error) { return &Source{cfg: *cfg}, nil }),
			sdk.NewTransform("square", "adds a column `square` = n*n (example plugin)",
				func(*struct{}) (sdk.Transform, error) { return squareTransform{}, nil }),
			sdk.NewRuntime("inline", "runs sequence → file flows inside the plugin process (example runtime plugin)",
				func(*RuntimeConfig) (sdk.Runtime, error) { return jobs.runtime(), nil }),
		},
	}
}

// Split is a range [Next, End) of numbers; Next is the position.
type Split struct {
	ID   string `json:"id"`
	Next int64  `json:"next"`
	End  int64  `json:"end"`
}

// SplitID implements sdk.Split.
func (s *Split) SplitID() string { return s.ID }

// Source generates numbers.
type Source struct{ cfg Config }

// Boundedness implements sdk.Source.
func (s *Source) Boundedness() sdk.Boundedness { return sdk.Bounded }

// CreateEnumerator implements sdk.Source.
func (s *Source) CreateEnumerator(ctx sdk.SplitEnumeratorContext) (sdk.SplitEnumerator, error) {
	e := &enumerator{ctx: ctx}
	per := (s.cfg.Count + int64(s.cfg.Splits) - 1) / int64(s.cfg.Splits)
	for i := int64(0); i < s.cfg.Count; i += per {
		e.pending = append(e.pending, &Split{ID: fmt.Sprintf("range-%d", i), Next: i, End: min(i+per, s.cfg.Count)})
	}
	return e, nil
}

// RestoreEnumerator implements sdk.Source.
func (s *Source) RestoreEnumerator(ctx sdk.SplitEnumeratorContext, state []byte) (sdk.SplitEnumerator, error) {
	e := &enumerator{ctx: ctx}
	return e, json.Unmarshal(state, &e.pending)
}

// CreateReader implements sdk.Source.
func (s *Source) CreateReader(ctx sdk.SourceReaderContext) (sdk.SourceReader, error) {
	return &reader{ctx: ctx, batch: int64(s.cfg.BatchSize)}, nil
}

// DecodeSplit implements sdk.Source.
func (s *Source) DecodeSplit(_ string, data []byte) (sdk.Split, error) {
	var sp Split
	return &sp, json.Unmarshal(data, &sp)
}

type enumerator struct {
	ctx     sdk.SplitEnumeratorContext
	pending []*Split
}

func (e *enumerator) Start(context.Context) error { return nil }
func (e *enumerator) HandleSplitRequest(_ context.Context, reader int, _ string) error {
	if len(e.pending) == 0 {
		return e.ctx.SignalNoMoreSplits(reader)
	}
	sp := e.pending[0]
	e.pending = e.pending[1:]
	return e.ctx.AssignSplit(sp, reader)
}
func (e *enumerator) AddSplitsBack(_ context.Context, splits []sdk.Split, _ int) error {
	for _, s := range splits {
		e.pending = append(e.pending, s.(*Split))
	}
	return nil
}
func (e *enumerator) AddReader(context.Context, int) error { return nil }
func (e *enumerator) SnapshotState(context.Context, int64) ([]byte, error) {
	return json.Marshal(e.pending)
}
func (e *enumerator) NotifyCheckpointComplete(context.Context, int64) error { return nil }
func (e *enumerator) Close() error                                          { return nil }

type reader struct {
	ctx    sdk.SourceReaderContext
	batch  int64
	splits []*Split
	noMore bool
}

func (r *reader) Start(context.Context) error {
	if len(r.splits) == 0 {
		return r.ctx.SendSplitRequest()
	}
	return nil
}
func (r *reader) AddSplits(splits []sdk.Split) error {
	for _, s := range splits {
		r.splits = append(r.splits, s.(*Split))
	}
	return nil
}
func (r *reader) NotifyNoMoreSplits() { r.noMore = true }

func (r *reader) PollNext(_ context.Context, out sdk.ReaderOutput) (sdk.InputStatus, error) {
	if len(r.splits) == 0 {
		if r.noMore {
			return sdk.EndOfInput, nil
		}
		return sdk.NothingAvailable, nil
	}
	sp := r.splits[0]
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for n := sp.Next; n < min(sp.Next+r.batch, sp.End); n++ {
		b.Append(n)
	}
	col := b.NewArray()
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
	defer rec.Release()
	if err := out.Emit(sp.ID, rec); err != nil {
		return 0, err
	}
	sp.Next += int64(col.Len())
	if sp.Next >= sp.End {
		r.splits = r.splits[1:]
		if err := out.SplitFinished(sp.ID); err != nil {
			return 0, err
		}
		if len(r.splits) == 0 && !r.noMore {
			if err := r.ctx.SendSplitRequest(); err != nil {
				return 0, err
			}
		}
	}
	return sdk.MoreAvailable, nil
}

func (r *reader) SnapshotState(context.Context, int64) ([]sdk.Split, error) {
	out := make([]sdk.Split, 0, len(r.splits))
	for _, s := range r.splits {
		c := *s
		out = append(out, &c)
	}
	return out, nil
}
func (r *reader) NotifyCheckpointComplete(context.Context, int64) error { return nil }
func (r *reader) Close() error                                          { return nil }

type squareTransform struct{}

// Process adds the column square = n*n; rows whose n is null are rejected.
func (squareTransform) Process(_ context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, []sdk.Rejected, error) {
	idx := rec.Schema().FieldIndices("n")
	if len(idx) == 0 {
		return nil, nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Summary: "square needs an int64 column n"}
	}
	n, ok := rec.Column(idx[0]).(*array.Int64)
	if !ok {
		return nil, nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Summary: fmt.Sprintf("column n is %s, square needs int64", rec.Column(idx[0]).DataType())}
	}
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := 0; i < n.Len(); i++ {
		b.Append(n.Value(i) * n.Value(i))
	}
	sq := b.NewArray()
	defer sq.Release()
	fields := append(append([]arrow.Field{}, rec.Schema().Fields()...), arrow.Field{Name: "square", Type: arrow.PrimitiveTypes.Int64})
	cols := append(append([]arrow.Array{}, rec.Columns()...), sq)
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows()), nil, nil
}

package sdk

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
)

// readerStream is the plugin's side of a Reader stream, driven by the test
// as the host.
type readerStream struct {
	grpc.ServerStream
	ctx context.Context
	in  chan *adfv1.ReaderCommand
	out chan *adfv1.ReaderEvent
}

func (s *readerStream) Context() context.Context { return s.ctx }
func (s *readerStream) Send(ev *adfv1.ReaderEvent) error {
	select {
	case s.out <- ev:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}
func (s *readerStream) Recv() (*adfv1.ReaderCommand, error) {
	select {
	case c, ok := <-s.in:
		if !ok {
			return nil, io.EOF
		}
		return c, nil
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

type sizedSplit struct {
	ID   string `json:"id"`
	Size int64  `json:"size"`
}

func (s *sizedSplit) SplitID() string  { return s.ID }
func (s *sizedSplit) SizeBytes() int64 { return s.Size }

// scriptedReader reads its one split in three polls: a batch after 10
// bytes, then 5 bytes of rejected records, then nothing more (it stays
// open, like a continuous source). Its lag is the polls left.
type scriptedReader struct {
	split *sizedSplit
	step  int
	lags  int
}

func (r *scriptedReader) Start(context.Context) error { return nil }
func (r *scriptedReader) PollNext(_ context.Context, out ReaderOutput) (InputStatus, error) {
	if r.split == nil || r.step >= 2 {
		return NothingAvailable, nil
	}
	r.step++
	if r.step == 1 {
		AddSourceBytes(out, 10)
		b := array.NewInt64Builder(memory.NewGoAllocator())
		defer b.Release()
		b.Append(1)
		col := b.NewArray()
		defer col.Release()
		rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{col}, 1)
		defer rec.Release()
		return MoreAvailable, out.Emit(r.split.ID, rec)
	}
	AddSourceBytes(out, 5)
	return MoreAvailable, out.Reject(Rejected{SplitID: r.split.ID, Position: "x:2", Raw: []byte("bad"), Reason: "bad"})
}
func (r *scriptedReader) AddSplits(splits []Split) error {
	r.split = splits[0].(*sizedSplit)
	return nil
}
func (r *scriptedReader) NotifyNoMoreSplits() {}
func (r *scriptedReader) SnapshotState(context.Context, int64) ([]Split, error) {
	return []Split{r.split}, nil
}
func (r *scriptedReader) NotifyCheckpointComplete(context.Context, int64) error { return nil }
func (r *scriptedReader) Close() error                                          { return nil }
func (r *scriptedReader) Lag(context.Context) (map[string]int64, error) {
	r.lags++
	return map[string]int64{r.split.ID: int64(2 - r.step)}, nil
}

type scriptedSource struct{ reader *scriptedReader }

func (s *scriptedSource) Boundedness() Boundedness { return ContinuousUnbounded }
func (s *scriptedSource) CreateEnumerator(SplitEnumeratorContext) (SplitEnumerator, error) {
	return nil, errors.New("not used")
}
func (s *scriptedSource) RestoreEnumerator(SplitEnumeratorContext, []byte) (SplitEnumerator, error) {
	return nil, errors.New("not used")
}
func (s *scriptedSource) CreateReader(SourceReaderContext) (SourceReader, error) {
	return s.reader, nil
}
func (s *scriptedSource) DecodeSplit(id string, data []byte) (Split, error) {
	return &sizedSplit{ID: id, Size: 15}, nil
}

type noConfig struct{}

// The reader loop sends the bytes a reader counts with its next batch, or
// with its state when no batch came after them, and asks for its lag before
// it reads new splits and once when it has caught up, not again while it
// idles.
func TestReaderReportsBytesAndLag(t *testing.T) {
	rd := &scriptedReader{}
	p := &Plugin{Name: "t", Components: []Component{NewSource("scripted", "test", Capabilities{Unbounded: true},
		func(*noConfig) (Source, error) { return &scriptedSource{reader: rd}, nil })}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := &readerStream{ctx: ctx, in: make(chan *adfv1.ReaderCommand, 8), out: make(chan *adfv1.ReaderEvent, 64)}
	done := make(chan error, 1)
	go func() { done <- (&server{p: p}).Reader(st) }()
	split, err := EncodeSplit(&sizedSplit{ID: "s", Size: 15})
	if err != nil {
		t.Fatal(err)
	}
	if split.SizeBytes != 15 {
		t.Fatalf("encoded split size = %d, want 15", split.SizeBytes)
	}
	st.in <- &adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_Open_{Open: &adfv1.ReaderCommand_Open{Type: "scripted", Config: []byte(`{}`), InitialCredits: 4}}}
	st.in <- &adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_AddSplits_{AddSplits: &adfv1.ReaderCommand_AddSplits{Splits: []*adfv1.Split{split}}}}
	next := func(what string) *adfv1.ReaderEvent {
		t.Helper()
		select {
		case ev := <-st.out:
			if d := ev.GetError(); d != nil {
				t.Fatalf("reader error while waiting for %s: %v", what, d)
			}
			return ev
		case err := <-done:
			t.Fatalf("reader ended (%v) while waiting for %s", err, what)
		case <-ctx.Done():
			t.Fatalf("no %s within a minute", what)
		}
		return nil
	}
	lag := func(want int64) {
		t.Helper()
		ev := next("a lag report")
		l := ev.GetLag()
		if l == nil || len(l.Splits) != 1 || l.Splits[0].SplitId != "s" || l.Splits[0].Records != want {
			t.Fatalf("event = %v, want a lag of %d for split s", ev, want)
		}
	}
	if ev := next("Opened"); ev.GetOpened() == nil {
		t.Fatalf("first event = %v, want Opened", ev)
	}
	lag(2) // before the first read of the new split
	if b := next("the batch").GetBatch(); b == nil || b.SourceBytes != 10 {
		t.Fatalf("batch = %v, want one with 10 source bytes", b)
	}
	if r := next("the rejected record").GetRejected(); r == nil {
		t.Fatal("want the rejected record")
	}
	lag(0) // caught up: NothingAvailable after it emitted
	st.in <- &adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_Snapshot_{Snapshot: &adfv1.ReaderCommand_Snapshot{CheckpointId: 1}}}
	state := next("the state").GetState()
	if state == nil || state.SourceBytes != 5 || len(state.Splits) != 1 || state.Splits[0].SizeBytes != 15 {
		t.Fatalf("state = %v, want the 5 bytes read since the batch and the split with its size", state)
	}
	st.in <- &adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_Close_{Close: &adfv1.ReaderCommand_Close{}}}
	if err := <-done; err != nil {
		t.Fatalf("reader ended with %v", err)
	}
	// The idle polls between the catch-up and Close asked for nothing.
	if rd.lags != 2 {
		t.Fatalf("Lag was called %d times, want 2", rd.lags)
	}
	select {
	case ev := <-st.out:
		t.Fatalf("unexpected event after the state: %v", ev)
	default:
	}
}

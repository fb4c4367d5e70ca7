package sdk

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Boundedness says whether a source ends by itself (Flink's Boundedness).
type Boundedness int

const (
	// Bounded sources end when every split is read.
	Bounded Boundedness = iota
	// ContinuousUnbounded sources run until the flow is stopped.
	ContinuousUnbounded
)

// Split is one unit of source work (FLIP-27 SourceSplit): a file range, a
// stream partition, a key range. Its current position travels inside it: a
// reader's SnapshotState returns its splits with their positions advanced.
//
// The SDK encodes a split with encoding.BinaryMarshaler when the type
// implements it, and as JSON otherwise; Source.DecodeSplit reverses that.
type Split interface {
	// SplitID is unique within the source and stable across checkpoints.
	SplitID() string
}

// Source is the factory of a source component (FLIP-27 Source). The SDK
// creates one per enumerator and per reader, from the decoded config.
type Source interface {
	// Boundedness of the source as configured.
	Boundedness() Boundedness
	// CreateEnumerator creates the split enumerator of a fresh run.
	CreateEnumerator(ctx SplitEnumeratorContext) (SplitEnumerator, error)
	// RestoreEnumerator creates the enumerator from a checkpointed state
	// (what SplitEnumerator.SnapshotState returned).
	RestoreEnumerator(ctx SplitEnumeratorContext, state []byte) (SplitEnumerator, error)
	// CreateReader creates one source reader.
	CreateReader(ctx SourceReaderContext) (SourceReader, error)
	// DecodeSplit turns a split's bytes back into the split.
	DecodeSplit(id string, data []byte) (Split, error)
}

// SplitEnumerator discovers splits and assigns them to readers (FLIP-27). It
// runs inside the plugin; the host routes its assignments. All methods are
// called from one goroutine, never concurrently, so an enumerator needs no
// locks; it must not block for long (use SplitEnumeratorContext.CallPeriodically
// for discovery work).
type SplitEnumerator interface {
	// Start begins discovery.
	Start(ctx context.Context) error
	// HandleSplitRequest is called when an idle reader asks for a split.
	// Answer with AssignSplit, SignalNoMoreSplits, or nothing yet (a
	// continuous source assigns later when it finds new work).
	HandleSplitRequest(ctx context.Context, readerID int, hostname string) error
	// AddSplitsBack returns splits whose reader failed or went away since the
	// last checkpoint; they must be assigned again.
	AddSplitsBack(ctx context.Context, splits []Split, readerID int) error
	// AddReader registers a new reader.
	AddReader(ctx context.Context, readerID int) error
	// SnapshotState returns the enumerator's state: the splits not yet
	// assigned and whatever discovery needs to resume.
	SnapshotState(ctx context.Context, checkpointID int64) ([]byte, error)
	// NotifyCheckpointComplete is called once the checkpoint is durable.
	NotifyCheckpointComplete(ctx context.Context, checkpointID int64) error
	// Close releases resources.
	Close() error
}

// SplitEnumeratorContext is how an enumerator talks to the host. The SDK
// implements it; an enumerator keeps it from CreateEnumerator.
type SplitEnumeratorContext interface {
	// AssignSplit assigns one split to a reader.
	AssignSplit(split Split, readerID int) error
	// AssignSplits assigns splits to several readers at once.
	AssignSplits(assignment map[int][]Split) error
	// SignalNoMoreSplits tells a reader that no split will come any more.
	SignalNoMoreSplits(readerID int) error
	// RegisteredReaders lists the readers registered so far, ascending.
	RegisteredReaders() []int
	// Parallelism is the number of readers the flow runs.
	Parallelism() int
	// CallPeriodically runs fn on the enumerator's goroutine every period
	// (after a first delay of one period), until the enumerator closes. An
	// error from fn fails the source.
	CallPeriodically(period time.Duration, fn func(ctx context.Context) error)
}

// InputStatus is what SourceReader.PollNext reports (Flink's InputStatus).
type InputStatus int

const (
	// MoreAvailable means: call PollNext again right away.
	MoreAvailable InputStatus = iota
	// NothingAvailable means no data now; the SDK calls PollNext again after
	// new splits arrive or a short pause.
	NothingAvailable
	// EndOfInput means every split is finished and no more will come.
	EndOfInput
)

// SourceReader reads the splits assigned to it (FLIP-27). All methods are
// called from one goroutine, never concurrently: state snapshots therefore
// cover exactly the batches emitted before them.
type SourceReader interface {
	// Start is called once, after restored splits were added.
	Start(ctx context.Context) error
	// PollNext emits at most one batch (or a few rejected records) and says
	// whether more is available. It may block briefly (up to about a second)
	// waiting for data; it must return when ctx is cancelled.
	PollNext(ctx context.Context, out ReaderOutput) (InputStatus, error)
	// AddSplits hands the reader new splits (or restored ones).
	AddSplits(splits []Split) error
	// NotifyNoMoreSplits says the enumerator will assign nothing more.
	NotifyNoMoreSplits()
	// SnapshotState returns the reader's unfinished splits with their current
	// positions. The SDK encodes them before it calls the reader again, so a
	// reader may return its live split values.
	SnapshotState(ctx context.Context, checkpointID int64) ([]Split, error)
	// NotifyCheckpointComplete is called once the checkpoint is durable: the
	// place to acknowledge upstream (never earlier).
	NotifyCheckpointComplete(ctx context.Context, checkpointID int64) error
	// Close releases resources.
	Close() error
}

// SourceReaderContext is how a reader talks to the host.
type SourceReaderContext interface {
	// ReaderID is the reader's index, 0 ≤ id < parallelism.
	ReaderID() int
	// SendSplitRequest asks the enumerator (through the host) for a split.
	SendSplitRequest() error
}

// ProjectedColumns returns the only columns of the source the flow uses,
// when the host knows them (a select transform follows the source); nil
// means all. It is a hint for readers of columnar formats: a reader may read
// and emit only these columns (names it does not have are left to the
// select to report), or ignore the hint; the select still runs after it.
func ProjectedColumns(ctx SourceReaderContext) []string {
	if p, ok := ctx.(interface{ projectedColumns() []string }); ok {
		return p.projectedColumns()
	}
	return nil
}

// ReaderOutput receives what PollNext produces.
type ReaderOutput interface {
	// Emit sends one batch read from a split. The SDK encodes it before
	// returning; the caller still owns (and releases) rec.
	Emit(splitID string, rec arrow.RecordBatch) error
	// Reject reports a record that could not be read; the flow's on_error
	// policy decides what happens to it.
	Reject(r Rejected) error
	// SplitFinished reports that a split is fully read.
	SplitFinished(splitID string) error
}

// Rejected is one bad record.
type Rejected struct {
	// SplitID is the split the record came from (sources) or empty (sinks).
	SplitID string
	// Position says where the record is, readable: "data/a.csv:17".
	Position string
	// Raw is the record as read (text, or JSON of the row for sinks).
	Raw []byte
	// Reason says what is wrong with it.
	Reason string
}

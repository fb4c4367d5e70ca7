package sdk

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
)

// Sink writes batches to a system. Methods are called from one goroutine.
//
// Delivery contract: Flush makes everything written since the previous Flush
// durable (for example one transaction, or a temp file synced) and returns
// the state needed to continue after a restart. Data written after the last
// Flush is discarded when Close is called without a Flush, and a sink opened
// with a restored state continues exactly after that Flush. Together with the
// host's checkpoints this gives effectively-once output.
type Sink interface {
	// Open prepares the sink. schema is nil when not known before the
	// first batch.
	Open(ctx context.Context, init SinkInit) error
	// Write writes one batch. Rows the target refuses are reported through
	// SinkInit.Reject (the rest of the batch is still written); a returned
	// error fails the attempt.
	Write(ctx context.Context, rec arrow.RecordBatch) error
	// Flush commits everything written so far (see the contract above).
	// final is set on the last flush of a bounded run: the sink publishes
	// its output.
	Flush(ctx context.Context, checkpointID int64, final bool) (FlushResult, error)
	// NotifyCheckpointComplete is called once the checkpoint is durable in
	// the host's store.
	NotifyCheckpointComplete(ctx context.Context, checkpointID int64) error
	// Close releases resources, discarding data not covered by a Flush.
	Close(ctx context.Context) error
}

// SinkInit is what a sink gets at Open.
type SinkInit struct {
	// Schema of the batches, nil when unknown before the first batch.
	Schema *arrow.Schema
	// RestoredState is FlushResult.State of the last durable checkpoint;
	// nil on a fresh run.
	RestoredState []byte
	// Flow and RunID identify the run (for temp names, transaction labels).
	Flow, RunID string
	// Reject reports a row the target refused.
	Reject func(Rejected) error
}

// FlushResult is what Flush reports.
type FlushResult struct {
	// RowsWritten and BytesWritten since the previous Flush.
	RowsWritten, BytesWritten int64
	// State lets a restarted sink continue after this flush.
	State []byte
}

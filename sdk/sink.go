package sdk

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
)

// Sink writes batches to a system. Methods are called from one goroutine.
//
// The delivery contract is two-phase, like Apache Flink's Sink V2:
//
//  1. Write adds rows to the checkpoint in progress.
//  2. Flush(checkpointID) is the pre-commit: everything written since the
//     previous Flush becomes durable (a temp file synced, a prepared
//     transaction, an uploaded object) but not yet visible to readers of the
//     target. It returns the committables that will publish it, and the
//     writer state a restored sink continues from. The host stores both
//     inside the checkpoint.
//  3. Once the checkpoint is durable in the host's store, the host calls
//     Commit (see Committer) with those committables: rename the file,
//     COMMIT PREPARED, write the snapshot. Only then is the output visible.
//  4. After a crash the host opens a new sink with the restored checkpoint's
//     writer state and id, and calls Commit again with its committables
//     (CommitRequest.Restored) before any new Write. Commit is therefore
//     idempotent: publishing what is already published changes nothing.
//     Anything pre-committed for a later checkpoint id of the same run was
//     never covered by a durable checkpoint; Open discards it.
//
// Data written after the last Flush is discarded by Close. Checkpoint ids
// grow and never repeat within a run, across attempts and restarts, so
// (flow, run, checkpoint id) names a committable uniquely.
//
// A sink that does not implement Committer gets its rows made visible by
// Flush: after a crash between Flush and the checkpoint's save they may be
// written again (at-least-once).
type Sink interface {
	// Open prepares the sink. schema is nil when not known before the
	// first batch.
	Open(ctx context.Context, init SinkInit) error
	// Write writes one batch. Rows the target refuses are reported through
	// SinkInit.Reject (the rest of the batch is still written); a returned
	// error fails the attempt.
	Write(ctx context.Context, rec arrow.RecordBatch) error
	// Flush pre-commits everything written since the previous Flush (see
	// the contract above). final is set on the last checkpoint of a run.
	Flush(ctx context.Context, checkpointID int64, final bool) (FlushResult, error)
	// Close releases resources, discarding data not covered by a Flush.
	Close(ctx context.Context) error
}

// Committer is implemented by two-phase sinks: Commit publishes the
// committables of a checkpoint once the host has persisted it. It must be
// idempotent (a restore calls it again for the restored checkpoint) and must
// not return before the output is durable and visible.
type Committer interface {
	Commit(ctx context.Context, req CommitRequest) error
}

// CheckpointListener is implemented by sinks that want to know when a
// checkpoint is durable but publish nothing then (one-phase sinks). It is
// called where a Committer's Commit would be.
type CheckpointListener interface {
	NotifyCheckpointComplete(ctx context.Context, checkpointID int64) error
}

// CommitRequest is one checkpoint's commit.
type CommitRequest struct {
	// CheckpointID is the checkpoint whose Flush returned Committables.
	CheckpointID int64
	// Committables is FlushResult.Committables of that Flush.
	Committables []byte
	// Restored is set when the checkpoint was restored after a crash: it
	// may have been committed already, wholly or in part.
	Restored bool
	// Final is set for the last checkpoint of a run.
	Final bool
}

// SinkInit is what a sink gets at Open.
type SinkInit struct {
	// Schema of the batches, nil when unknown before the first batch.
	Schema *arrow.Schema
	// RestoredState is FlushResult.State of the restored checkpoint; nil on
	// a fresh run.
	RestoredState []byte
	// RestoredCheckpointID is the restored checkpoint's id, 0 on a fresh
	// run. Output pre-committed under a later id of this run is not covered
	// by any durable checkpoint and must be discarded.
	RestoredCheckpointID int64
	// Flow and RunID identify the run (for temp names, transaction labels,
	// marker rows).
	Flow, RunID string
	// Reject reports a row the target refused.
	Reject func(Rejected) error
}

// FlushResult is what Flush reports.
type FlushResult struct {
	// RowsWritten and BytesWritten since the previous Flush.
	RowsWritten, BytesWritten int64
	// State lets a restored sink continue after this checkpoint.
	State []byte
	// Committables publish what this Flush pre-committed (Committer.Commit).
	Committables []byte
}

// Delivery is the guarantee a sink gives, stated in its manifest.
type Delivery string

// Delivery guarantees.
const (
	// DeliveryExactlyOnce: every row is visible in the target exactly once,
	// whatever fails when.
	DeliveryExactlyOnce Delivery = "exactly_once"
	// DeliveryIdempotent: a row may be written more than once, and writing
	// it again changes nothing (upserts by key, caches).
	DeliveryIdempotent Delivery = "idempotent"
	// DeliveryAtLeastOnce: no row is lost; after a crash some may appear
	// twice.
	DeliveryAtLeastOnce Delivery = "at_least_once"
)

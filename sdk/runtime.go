package sdk

import "context"

// Runtime runs a whole flow somewhere else (a Flink cluster, a function
// service). The flow is the flow document as JSON (see package flow).
type Runtime interface {
	// Validate says whether the flow can run on this runtime; the error says
	// why not.
	Validate(ctx context.Context, flow []byte) error
	// Submit starts the flow and returns the runtime's job id.
	Submit(ctx context.Context, flow []byte, runID string) (jobID string, err error)
	// Status reports a job's state.
	Status(ctx context.Context, jobID string) (RuntimeStatus, error)
	// Cancel stops a job.
	Cancel(ctx context.Context, jobID string) error
}

// RuntimeStatus is the state of a job on a runtime.
type RuntimeStatus struct {
	// State is pending, running, success, failed or cancelled.
	State                       string
	RecordsRead, RecordsWritten int64
	Message                     string
}

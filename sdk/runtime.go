package sdk

import "context"

// Runtime runs a whole flow somewhere else (a Flink cluster, a function
// service).
type Runtime interface {
	// Validate says whether the job can run on this runtime; the error says
	// why not. job.RunID is empty.
	Validate(ctx context.Context, job RuntimeJob) error
	// Submit starts the job and returns the runtime's job id.
	Submit(ctx context.Context, job RuntimeJob) (jobID string, err error)
	// Status reports a job's state.
	Status(ctx context.Context, jobID string) (RuntimeStatus, error)
	// Cancel stops a job.
	Cancel(ctx context.Context, jobID string) error
}

// RuntimeJob is what a runtime is asked to run: the flow and the
// executables that serve its components on the host.
type RuntimeJob struct {
	// Flow is the flow document as JSON (see package flow).
	Flow []byte
	// RunID is the host's id of the run (empty in Validate).
	RunID string
	// Components are the flow's source, transforms (in order) and sink.
	Components []RuntimeComponent
}

// RuntimeComponent is one component of a flow and the executable on the
// host that serves it.
type RuntimeComponent struct {
	Kind Kind
	Type string
	// Index is the position among the flow's transforms (transforms only).
	Index int
	// Executable is the absolute path of the plugin executable (for the
	// host's built-in transforms, its adf-transforms executable).
	Executable string
	// Plugin is the plugin's manifest name, "builtin" for the host's own.
	Plugin string
}

// RuntimeStatus is the state of a job on a runtime.
type RuntimeStatus struct {
	// State is pending, running, success, failed or cancelled.
	State                                        string
	RecordsRead, RecordsWritten, RecordsRejected int64
	Message                                      string
}

// Package engine runs one data flow in the host process: it starts the
// source's split enumerator and readers in the source plugin, routes split
// assignments centrally, moves Arrow batches through the transforms to the
// sink with credit-based flow control, takes aligned checkpoints, applies the
// bad-record policy and restarts crashed plugins from the last checkpoint.
//
// The checkpoint protocol, step by step (docs/architecture.md has the whole
// of it):
//
//  1. snapshot the enumerator, then every reader (after the assignments
//     routed so far);
//  2. deliver every batch sent before the snapshots to the sink;
//  3. pre-commit the sink (Flush): durable, not visible, answered with
//     committables;
//  4. persist the checkpoint (split and enumerator states, the sink's state
//     and committables, the rejected records) in one store write;
//  5. only then complete it: commit the sink, write the dead letters, tell
//     the sources (XACK, cursor advance).
//
// A restored attempt completes the restored checkpoint again (every step of
// 5 is idempotent) before any new data, so no commit or notification is lost
// to a crash between 4 and 5.
package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// Stats are a run's committed counts: rows covered by a durable checkpoint.
type Stats struct {
	RowsRead     int64 `json:"rows_read"`
	RowsWritten  int64 `json:"rows_written"`
	RowsRejected int64 `json:"rows_rejected"`
	BytesWritten int64 `json:"bytes_written"`
	// BytesRead is how much of the source the committed rows came from,
	// when the source reports it (0: unknown).
	BytesRead   int64 `json:"bytes_read,omitempty"`
	Checkpoints int64 `json:"checkpoints"`
	Restarts    int   `json:"restarts"`
}

// SplitState is one split as kept in a checkpoint.
type SplitState struct {
	ID   string `json:"id"`
	Data []byte `json:"data"`
	// SizeBytes is the split's size when the source says (0: unknown).
	SizeBytes int64 `json:"size_bytes,omitempty"`
}

// Checkpoint is everything needed to resume a run.
type Checkpoint struct {
	ID int64 `json:"id"`
	// Enumerator is the enumerator's snapshot.
	Enumerator []byte `json:"enumerator"`
	// Readers holds each reader's unfinished splits, indexed by reader id.
	Readers [][]SplitState `json:"readers"`
	// Sink is the sink's writer state after the checkpoint's pre-commit.
	Sink []byte `json:"sink"`
	// Committables are what the sink's commit publishes (two-phase sinks).
	Committables []byte `json:"committables,omitempty"`
	// DeadLetters are the dead-letter file lines this checkpoint appends,
	// and where: written when the checkpoint completes, again on restore.
	DeadLetters *DeadLetters `json:"dead_letters,omitempty"`
	// Stats are the counts committed up to and including this checkpoint.
	Stats Stats `json:"stats"`
	// Progress is what a restored run needs to show its split assignment
	// and the source's total (the finished splits).
	Progress *SplitProgress `json:"progress,omitempty"`
	// Final marks the last checkpoint of a finished run.
	Final bool      `json:"final"`
	Time  time.Time `json:"time"`
}

// DeadLetters is a checkpoint's part of the dead-letter file: the file is
// cut back to Offset and Lines appended, which gives the same file however
// often it is done.
type DeadLetters struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Lines  []byte `json:"lines,omitempty"`
}

// CheckpointStore keeps checkpoints durable. Save must not return before the
// checkpoint would survive a crash of the host (or a power loss).
type CheckpointStore interface {
	// Latest returns the newest checkpoint of the run, nil when none.
	Latest(ctx context.Context, flowName, runID string) (*Checkpoint, error)
	// Save persists a checkpoint and, in the same transaction, the rejected
	// records it covers (nil unless Options.RejectedInStore).
	Save(ctx context.Context, flowName, runID string, cp *Checkpoint, rejected []Rejected) error
}

// MemoryStore keeps checkpoints in memory (for one-shot runs).
type MemoryStore struct {
	mu sync.Mutex
	m  map[string]*Checkpoint
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string]*Checkpoint{}} }

// Latest implements CheckpointStore.
func (s *MemoryStore) Latest(_ context.Context, flowName, runID string) (*Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[flowName+"/"+runID], nil
}

// Save implements CheckpointStore; it keeps no rejected records.
func (s *MemoryStore) Save(_ context.Context, flowName, runID string, cp *Checkpoint, _ []Rejected) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[flowName+"/"+runID] = cp
	return nil
}

// Event reports what a run is doing, for progress display and tests.
type Event struct {
	// Kind is "plugin_started", "progress", "checkpoint", "restart",
	// "splits" or "lag".
	Kind string
	// Role and Pid of a started plugin process ("source", "sink",
	// "transform:<type>").
	Role string
	Pid  int
	// Live counts (not yet committed) for progress: those of the current
	// attempt, since it started from the last checkpoint (add that
	// checkpoint's Stats for the run's). RowsRejected counts the records
	// rejected so far in the attempt, by the source, the transforms and
	// the sink.
	RowsRead, RowsWritten, RowsRejected int64
	// BytesRead is how much of the source the readers have consumed in the
	// whole run (the restored checkpoint's part included), when the source
	// reports it; BytesTotal the source's size when its splits say (the
	// sum of the sizes of every split the enumerator produced; 0: unknown,
	// which it is as soon as one split's size is). A bounded source read
	// to its end has BytesRead == BytesTotal.
	BytesRead, BytesTotal int64
	// Splits is, for Kind splits, every split the run knows with its
	// reader, state and last reported lag, in the order they became known
	// (of the finished ones, the last 1000). A splits event comes whenever
	// the assignment changes: splits discovered, assigned, finished,
	// given back, and at the start of an attempt restored from a
	// checkpoint.
	Splits []progress.Split
	// Checkpoint is the committed checkpoint (Kind checkpoint).
	Checkpoint *Checkpoint
	// Err is the cause of a restart.
	Err error
	// Lag is, for Kind lag, the records the source has behind each split's
	// position, by split id, as a reader reported them.
	Lag map[string]int64
}

// Options configure the engine.
type Options struct {
	// Registry resolves and launches plugins.
	Registry *registry.Registry
	// Logger for run logs; nil discards.
	Logger hclog.Logger
	// Checkpoints keeps checkpoints; nil keeps them in memory.
	Checkpoints CheckpointStore
	// DataDir holds default dead-letter files (ADF_DATA_DIR).
	DataDir string
	// OnEvent, when set, receives events; it must not block.
	OnEvent func(Event)
	// Credits is how many batches a reader may have in flight (default 4).
	Credits int
	// CheckpointTimeout fails an attempt whose checkpoint does not complete
	// in time (a hung plugin); default 2m.
	CheckpointTimeout time.Duration
	// RestartBackoff is the pause before restarting a failed attempt
	// (default 200ms, doubling).
	RestartBackoff time.Duration
	// RejectedInStore hands the rejected records of each checkpoint under
	// on_error: dead_letter to Checkpoints.Save, in the checkpoint's own
	// transaction (the service keeps them in its store); the dead-letter
	// file is then written only when the flow names one in dead_letter.path.
	RejectedInStore bool
	// Fault stops a run at one protocol point by killing a process (the
	// fault-injection tests; ADF_FAULT). Nil in production.
	Fault *Fault
	// Stop, when closed, ends unbounded runs gracefully: a final checkpoint,
	// then the run returns. Bounded runs end by themselves.
	Stop <-chan struct{}
	// RunTimeout bounds the runs of flows without a timeout of their own
	// (the host's --run-timeout); 0: none. See WithRunTimeout.
	RunTimeout time.Duration
	// Cancel, when closed, ends the run on request: an unbounded one with a
	// final checkpoint that publishes everything read up to it (whatever
	// Suspend says), a bounded one as soon as no checkpoint is in flight
	// (what its checkpoints committed stays; no pre-commit is left behind);
	// Run then returns ErrCancelled.
	Cancel <-chan struct{}
	// Suspend makes a stopped unbounded run resumable instead of finished:
	// its last checkpoint does not publish the sink's output and is not
	// final, and Result.Suspended is set; running it again with the same run
	// id continues from there (the service does this across restarts).
	Suspend bool
}

// Engine runs flows.
type Engine struct {
	opts Options
}

// New returns an engine.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Checkpoints == nil {
		opts.Checkpoints = NewMemoryStore()
	}
	if opts.Credits <= 0 {
		opts.Credits = 4
	}
	if opts.CheckpointTimeout <= 0 {
		opts.CheckpointTimeout = 2 * time.Minute
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = 200 * time.Millisecond
	}
	if opts.DataDir == "" {
		opts.DataDir = "adf-data"
	}
	return &Engine{opts: opts}
}

// Result is the outcome of a run.
type Result struct {
	Stats Stats
	// DeadLetterPath is the dead-letter file, when records were rejected
	// under on_error: dead_letter.
	DeadLetterPath string
	// Suspended is set when a stop request suspended an unbounded run
	// (Options.Suspend): it is not finished and resumes from its last
	// checkpoint when run again.
	Suspended bool
}

// Run executes the flow to completion (bounded sources) or until ctx is
// cancelled (unbounded ones: the run then takes a final checkpoint). A
// failed attempt that may succeed again (plugin crash, lost connection) is
// restarted from the last checkpoint up to the flow's max_restarts. A run
// still going at its timeout (the flow's, else Options.RunTimeout) is
// cancelled and fails with a CodeDeadlineExceeded sdk.Error.
func (e *Engine) Run(ctx context.Context, f *flow.Flow, runID string) (Result, error) {
	f.Normalize()
	ctx, cancel := WithRunTimeout(ctx, f, e.opts.RunTimeout)
	defer cancel()
	log := e.opts.Logger.With("flow", f.Name, "run", runID)
	plan, err := e.plan(f)
	if err != nil {
		return Result{}, err
	}
	path := e.deadLetterPath(f)
	if e.opts.RejectedInStore && (f.DeadLetter == nil || f.DeadLetter.Path == "") {
		path = ""
	}
	dl := newDeadLetter(f, runID, path, e.opts.RejectedInStore)
	res := Result{}
	retry := newRetryPolicy(f, e.opts.RestartBackoff)
	// lastID is the highest checkpoint id this process has used for the
	// run: a restarted attempt continues above it, so ids never repeat.
	var lastID int64
	for attempt := 0; ; attempt++ {
		cp, err := e.opts.Checkpoints.Latest(ctx, f.Name, runID)
		if terr := TimedOut(ctx); terr != nil {
			return res, terr
		}
		if err != nil {
			return res, fmt.Errorf("load checkpoint of run %s: %w", runID, err)
		}
		if cp != nil {
			retry.progress(cp.ID)
		}
		// A final checkpoint is still restored: its commit and the sources'
		// notification may not have happened before a crash.
		a := newAttempt(ctx, e, f, runID, plan, cp, dl, lastID, log.With("attempt", attempt+1))
		err = a.run()
		lastID = max(lastID, a.lastID)
		res.Stats = a.committed
		res.Stats.Restarts = attempt
		if dl.written > 0 && dl.path != "" {
			res.DeadLetterPath = dl.path
		}
		if err == nil && a.cancelled {
			return res, ErrCancelled
		}
		if err == nil {
			res.Suspended = a.suspended
			return res, nil
		}
		if errors.Is(err, ErrCancelled) {
			return res, err
		}
		if terr := TimedOut(ctx); terr != nil {
			return res, terr
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("run %s of flow %s: %w", runID, f.Name, ctx.Err())
		}
		if !Retryable(err) {
			return res, err
		}
		if latest, lerr := e.opts.Checkpoints.Latest(ctx, f.Name, runID); lerr == nil && latest != nil {
			retry.progress(latest.ID)
		}
		wait, gaveUp := retry.next(err)
		if gaveUp != nil {
			return res, gaveUp
		}
		log.Warn("attempt failed; restarting from the last checkpoint", "error", err, "restart", attempt+1, "in", wait)
		e.emit(Event{Kind: "restart", Err: err})
		select {
		case <-time.After(wait):
		case <-e.opts.Cancel:
			return res, ErrCancelled
		case <-ctx.Done():
			if terr := TimedOut(ctx); terr != nil {
				return res, terr
			}
			return res, ctx.Err()
		}
	}
}

// WithRunTimeout bounds a run's context by its timeout: the flow's own
// (0: none), else def (the host's default; 0: none). Past it the context
// ends with a CodeDeadlineExceeded sdk.Error as its cause (see TimedOut):
// retrying would run as long again. The timeout counts from this call, so
// a run resumed by another host after a crash gets it anew.
func WithRunTimeout(ctx context.Context, f *flow.Flow, def time.Duration) (context.Context, context.CancelFunc) {
	d, origin := def, "--run-timeout, the host's default for flows without a timeout"
	detail := "give the flow a timeout of its own, or raise --run-timeout (ADF_RUN_TIMEOUT), if it needs longer; otherwise find what it waits on, such as an input that never ends or a system that does not answer; it is not retried"
	if f.Timeout != nil {
		d, origin = f.Timeout.D(), "timeout in the flow"
		detail = "raise the flow's timeout if it needs longer; otherwise find what it waits on, such as an input that never ends or a system that does not answer; it is not retried"
	}
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, &sdk.Error{Code: sdk.CodeDeadlineExceeded,
		Summary: fmt.Sprintf("run exceeded its timeout of %s (%s); it was cancelled, and what its checkpoints committed stays", d, origin),
		Detail:  detail})
}

// TimedOut returns the run's timeout error when ctx (from WithRunTimeout)
// ended by it, nil otherwise.
func TimedOut(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	var se *sdk.Error
	if cause := context.Cause(ctx); errors.As(cause, &se) && se.Code == sdk.CodeDeadlineExceeded {
		return cause
	}
	return nil
}

func (e *Engine) deadLetterPath(f *flow.Flow) string {
	if f.DeadLetter != nil && f.DeadLetter.Path != "" {
		return f.DeadLetter.Path
	}
	return filepath.Join(e.opts.DataDir, "dead_letter", f.Name+".jsonl")
}

// ErrCancelled is Run's error for a run ended by Options.Cancel.
var ErrCancelled = errors.New("the run was cancelled")

func (e *Engine) cancelRequested() bool {
	select {
	case <-e.opts.Cancel:
		return true
	default:
		return false
	}
}

func (e *Engine) stopRequested() bool {
	select {
	case <-e.opts.Stop:
		return true
	default:
		return false
	}
}

func (e *Engine) emit(ev Event) {
	if e.opts.OnEvent != nil {
		e.opts.OnEvent(ev)
	}
}

// transientError marks an error the engine may retry from a checkpoint: a
// plugin process died or a stream broke, with no plugin diagnostic to say
// otherwise.
type transientError struct{ err error }

func (t *transientError) Error() string { return t.err.Error() }
func (t *transientError) Unwrap() error { return t.err }

func transient(err error) error { return &transientError{err} }

// Retryable says whether a failed attempt may succeed when restarted: the
// host's one classification of errors. A plugin's structured error decides
// by its code (sdk.Error.Retryable); a broken plugin process or stream is
// retryable; anything else (a host-side bug or refusal) is not.
func Retryable(err error) bool {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se.Retryable()
	}
	var t *transientError
	return errors.As(err, &t)
}

// Package runner executes flow runs as jobs of the River queue: the run job
// (DataFlowRunJob) marks the run in progress, loads the flow's current
// config, runs it on its runtime, records the outcome and returns the error
// so the queue's retry policy applies. Heartbeats enqueue run jobs in the
// same transaction that creates the run rows.
package runner

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/redact"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// RunArgs are the arguments of a DataFlowRunJob.
type RunArgs struct {
	RunID int64 `json:"run_id"`
}

// Kind implements river.JobArgs.
func (RunArgs) Kind() string { return "data_flow_run" }

// Options configure a Runner.
type Options struct {
	Store    *store.Store
	Registry *registry.Registry
	Logger   hclog.Logger
	// DataDir holds dead-letter files.
	DataDir string
	// Workers is how many runs execute at once (default 4).
	Workers int
	// MaxAttempts per run (default 3).
	MaxAttempts int
	// RetryBackoff is the first retry delay; it doubles per attempt
	// (default 10s).
	RetryBackoff time.Duration
	// PollInterval is how often idle workers look for jobs (default 500ms).
	PollInterval time.Duration
	// Progress, when set, holds the live state of the runs this host
	// executes (for the API and metrics).
	Progress *progress.Tracker
	// Observe, when set, is told about every finished run (for metrics).
	Observe func(run *store.Run, d time.Duration, err error)
	// OnEngineEvent, when set, receives the engine's events (for tests and
	// metrics).
	OnEngineEvent func(runID int64, ev engine.Event)
	// Fault is the engine's fault-injection point (tests only).
	Fault *engine.Fault
	// LeaseTTL is how long a run's lease lasts without renewal: a host
	// that dies leaves its runs to be resumed elsewhere this long after its
	// last renewal (default 15s; renewed every third of it).
	LeaseTTL time.Duration
	// HostID names this host in run leases (default: hostname, pid and a
	// random suffix, unique per process).
	HostID string
	// RunTimeout bounds the runs of flows without a timeout of their own
	// (adf serve --run-timeout); 0: none. A run past its timeout fails,
	// without retries.
	RunTimeout time.Duration
}

// Runner owns the job queue client.
type Runner struct {
	opts   Options
	client *river.Client[*sql.Tx]
	driver riverdriver.Driver[*sql.Tx]
	stop   chan struct{}
}

// New creates the runner and its River client (not started).
func New(opts Options) (*Runner, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 10 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 15 * time.Second
	}
	if opts.HostID == "" {
		opts.HostID = hostID()
	}
	r := &Runner{opts: opts, stop: make(chan struct{})}
	if opts.Store.Dialect() == store.Postgres {
		r.driver = riverdatabasesql.New(opts.Store.DB())
	} else {
		r.driver = riversqlite.New(opts.Store.DB())
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &runWorker{r: r}); err != nil {
		return nil, err
	}
	client, err := river.NewClient(r.driver, &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers:           workers,
		MaxAttempts:       opts.MaxAttempts,
		RetryPolicy:       &backoff{base: opts.RetryBackoff},
		FetchPollInterval: opts.PollInterval,
		FetchCooldown:     min(opts.PollInterval, 100*time.Millisecond),
		JobTimeout:        -1, // flows run as long as they need
		Logger:            slog.New(hclogHandler{opts.Logger.Named("queue")}),
	})
	if err != nil {
		return nil, fmt.Errorf("create job queue: %w", err)
	}
	r.client = client
	return r, nil
}

// Migrate creates or updates the job queue's tables.
func (r *Runner) Migrate(ctx context.Context) error {
	m, err := rivermigrate.New(r.driver, nil)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	return nil
}

// Start starts the workers and the rescue of runs whose host died.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	go r.rescueLoop(ctx)
	return nil
}

// rescueLoop resumes, every third of the lease time, the runs whose lease
// expired: their host died (or lost the store) while running them.
func (r *Runner) rescueLoop(ctx context.Context) {
	t := time.NewTicker(r.opts.LeaseTTL / 3)
	defer t.Stop()
	for {
		rescued, err := r.opts.Store.RescueExpired(ctx, time.Now(), r.Enqueue())
		if err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("rescue runs of dead hosts", "error", err)
		}
		for _, id := range rescued {
			r.opts.Logger.Warn("run's host stopped renewing its lease; resuming the run from its last checkpoint", "run", id, "lease_ttl", r.opts.LeaseTTL.String())
		}
		select {
		case <-t.C:
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// holdLease renews the run's lease until ctx ends; when the lease is lost
// (another host took the run over) or cannot be renewed within its time,
// it cancels the run with store.ErrLeaseLost. A cancel request is handed to
// ctl, which stops the run gracefully or at once; the lease is renewed on
// while a graceful stop takes its final checkpoint.
func (r *Runner) holdLease(ctx context.Context, cancel context.CancelCauseFunc, runID int64, ctl *runControl) {
	ttl := r.opts.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := r.opts.Store.RenewLease(ctx, runID, r.opts.HostID, ttl)
		switch {
		case err == nil:
			renewed = time.Now()
		case errors.Is(err, store.ErrCancelRequested):
			// RenewLease renewed the lease before it saw the request.
			renewed = time.Now()
			ctl.requestCancel(err)
		case errors.Is(err, store.ErrLeaseLost):
			cancel(err)
			return
		case time.Since(renewed) > ttl-ttl/6:
			// Another host may take the run over any moment: stop first.
			cancel(fmt.Errorf("run %d: could not renew the lease for %s (%v): %w", runID, time.Since(renewed).Round(time.Second), err, store.ErrLeaseLost))
			return
		}
	}
}

// hostID names this process in run leases.
func hostID() string {
	h, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", h, os.Getpid(), hex.EncodeToString(b))
}

// Stop stops fetching jobs and lets running ones finish: unbounded runs are
// asked to take a final checkpoint; when ctx ends first, runs are cancelled
// (their jobs are retried later and resume from their last checkpoint).
func (r *Runner) Stop(ctx context.Context) error {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	err := r.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		// Out of time: cancel what still runs; those jobs are retried
		// later and resume from their checkpoints.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return r.client.StopAndCancel(cctx)
	}
	return err
}

// Enqueue returns the store.Enqueue that inserts a run's job in the caller's
// transaction.
func (r *Runner) Enqueue() store.Enqueue {
	return func(ctx context.Context, tx *sql.Tx, runIDs []int64) error {
		params := make([]river.InsertManyParams, len(runIDs))
		for i, id := range runIDs {
			params[i] = river.InsertManyParams{Args: RunArgs{RunID: id}}
		}
		_, err := r.client.InsertManyTx(ctx, tx, params)
		return err
	}
}

// Heartbeat runs one heartbeat: every due flow gets a run and its job, in one
// transaction.
func (r *Runner) Heartbeat(ctx context.Context, now time.Time) (store.HeartbeatResult, error) {
	return r.opts.Store.Heartbeat(ctx, now, r.Enqueue())
}

// Trigger starts a run of the flow now.
func (r *Runner) Trigger(ctx context.Context, name string) (int64, error) {
	return r.opts.Store.TriggerRun(ctx, name, time.Now(), r.Enqueue())
}

// backoff doubles the delay per attempt.
type backoff struct{ base time.Duration }

func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base << min(max(job.Attempt-1, 0), 16)
	return time.Now().Add(min(d, 6*time.Hour))
}

// runWorker is DataFlowRunJob.
type runWorker struct {
	river.WorkerDefaults[RunArgs]
	r *Runner
}

// Work runs one attempt of a run.
func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	return w.r.execute(ctx, job.ID, job.Args.RunID, job.Attempt, job.MaxAttempts)
}

func (r *Runner) execute(ctx context.Context, jobID, runID int64, attempt, maxAttempts int) error {
	st := r.opts.Store
	log := r.opts.Logger.With("run", runID, "attempt", attempt)
	run, err := st.GetRun(ctx, runID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if run.Status == store.StatusSuccess || run.Status == store.StatusCancelled {
		return nil
	}
	// The lease makes this host the run's only executor while it renews it.
	if err := st.AcquireLease(ctx, runID, r.opts.HostID, jobID, r.opts.LeaseTTL); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			log.Info("run is executed by another host; checking again later")
			return river.JobSnooze(r.opts.LeaseTTL)
		}
		return err
	}
	leaseCtx, dropLease := context.WithCancelCause(ctx)
	defer dropLease(nil)
	ctl := newRunControl(dropLease)
	defer ctl.disarm()
	go ctl.stopOn(leaseCtx, r.stop)
	go r.holdLease(leaseCtx, dropLease, runID, ctl)
	ctx = leaseCtx
	defer func() { _ = st.ReleaseLease(context.WithoutCancel(ctx), runID, r.opts.HostID) }()
	f, version, err := r.runConfig(ctx, run)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			_ = st.FinishRun(ctx, runID, store.StatusFailed, store.RunCounts{}, redact.String(err.Error()), "", time.Now())
			return river.JobCancel(err)
		}
		return err
	}
	run, ended, err := st.StartRun(ctx, runID, attempt, f, version, time.Now())
	if err != nil {
		return err
	}
	if ended {
		return nil
	}
	f.Normalize()
	log.Info("run started", "flow", f.Name, "config_version", version)
	start := time.Now()
	lr := r.startLive(ctx, runID, f.Name, f.Parallelism, r.committedStats(ctx, runID, log), log)
	// The tracker lets the run go after its outcome is recorded and
	// observed (the metrics count its last counts exactly once).
	defer lr.finish()
	// A cancel request for a run in this host's engine ends it there: a
	// bounded run at once, an unbounded one with a final checkpoint that
	// publishes what it read. Other runs are cancelled at once.
	if f.Runtime.Type == builtin.HostRuntime {
		ctl.runsInHost()
	}
	stats, runErr := r.runFlow(ctx, f, runID, ctl, lr)
	lr.stop()
	if cause := context.Cause(ctx); errors.Is(cause, store.ErrLeaseLost) {
		// Another host resumed the run: its row is not ours to write.
		log.Warn("lost the run's lease; another host continues it from its last checkpoint", "error", cause)
		return river.JobCancel(cause)
	}
	counts := store.RunCounts{Read: stats.RowsRead, Written: stats.RowsWritten, Rejected: stats.RowsRejected, Bytes: stats.BytesWritten}
	now := time.Now()
	if ctl.cancelled() {
		// Stopped by request: what its checkpoints committed stays.
		if err := st.FinishRun(context.WithoutCancel(ctx), runID, store.StatusCancelled, counts, store.ErrCancelRequested.Error(), "", now); err != nil {
			return err
		}
		log.Info("run cancelled by request", "flow", f.Name, "rows_read", counts.Read, "rows_written", counts.Written)
		r.observe(ctx, runID, now.Sub(start), nil)
		return river.JobCancel(store.ErrCancelRequested)
	}
	if runErr == nil {
		if err := st.FinishRun(context.WithoutCancel(ctx), runID, store.StatusSuccess, counts, "", "", now); err != nil {
			return err
		}
		log.Info("run succeeded", "flow", f.Name, "rows_read", counts.Read, "rows_written", counts.Written, "rows_rejected", counts.Rejected)
		r.observe(ctx, runID, now.Sub(start), nil)
		return nil
	}
	if errors.Is(runErr, ErrSuspended) {
		// The host is stopping: the run stays pending and its job comes back
		// at the next start, resuming from the checkpoint just taken.
		if err := st.FinishRun(context.WithoutCancel(ctx), runID, store.StatusPending, counts, "", "", now); err != nil {
			return err
		}
		log.Info("run suspended for shutdown; it resumes at the next start", "flow", f.Name)
		r.observe(ctx, runID, now.Sub(start), runErr)
		return river.JobSnooze(time.Second)
	}
	permanent := isPermanent(runErr)
	status := store.StatusFailed
	if !permanent && attempt < maxAttempts && ctx.Err() == nil {
		// A retry follows: the run stays pending, with this attempt's error.
		status = store.StatusPending
	}
	if ctx.Err() != nil {
		status = store.StatusPending
	}
	// What is recorded and logged carries no secret: neither the values of
	// the flow's secret config fields nor credentials recognised by form.
	secrets := redact.Secrets(f, redact.RegistrySchemas(r.opts.Registry))
	redact.Remember(secrets)
	msg := secrets.String(runErr.Error())
	if err := st.FinishRun(context.WithoutCancel(ctx), runID, status, counts, msg, secrets.String(Backtrace(runErr)), now); err != nil {
		log.Error("record run failure", "error", redact.Error(err))
	}
	log.Warn("run failed", "flow", f.Name, "error", msg, "retry", status == store.StatusPending)
	r.observe(ctx, runID, now.Sub(start), runErr)
	if permanent {
		return river.JobCancel(runErr)
	}
	return runErr
}

// committedStats returns what the run's latest checkpoint committed: the
// engine resumes from it, and the live counts start there.
func (r *Runner) committedStats(ctx context.Context, runID int64, log hclog.Logger) engine.Stats {
	cp, err := r.opts.Store.Checkpoints().Latest(ctx, "", strconv.FormatInt(runID, 10))
	if err != nil {
		log.Debug("read the run's last checkpoint for its live counts", "error", err)
		return engine.Stats{}
	}
	if cp == nil {
		return engine.Stats{}
	}
	return cp.Stats
}

func (r *Runner) observe(ctx context.Context, runID int64, d time.Duration, err error) {
	if r.opts.Observe == nil {
		return
	}
	if run, gerr := r.opts.Store.GetRun(context.WithoutCancel(ctx), runID); gerr == nil {
		r.opts.Observe(run, d, err)
	}
}

// runConfig returns the config a run uses: the one its first attempt
// started with (a retry resumes from checkpoints taken under it), else the
// flow's current one. A config change applies to the next run.
func (r *Runner) runConfig(ctx context.Context, run *store.Run) (*flow.Flow, int, error) {
	if len(run.Config) > 0 && string(run.Config) != "null" {
		var f flow.Flow
		if err := json.Unmarshal(run.Config, &f); err != nil {
			return nil, 0, fmt.Errorf("config of run %d: %w", run.ID, err)
		}
		return &f, run.ConfigVersion, nil
	}
	if run.FlowDeleted {
		// A flow made since under the same name is another flow.
		return nil, 0, fmt.Errorf("run %d: its flow %q was deleted before the run started: %w", run.ID, run.FlowName, store.ErrNotFound)
	}
	rec, err := r.opts.Store.GetFlow(ctx, run.FlowName)
	if err != nil {
		return nil, 0, err
	}
	return rec.Flow, rec.ConfigVersion, nil
}

// runFlow runs the flow on its runtime, once what it names passed the
// process's confinement (file roots, allowed destinations) again: the flow
// may have been saved before they changed.
//
// ctl ends a host run early: the host's stop suspends an unbounded run at a
// checkpoint it resumes from later; a cancel request ends it (see
// runControl). lr gets the run's progress.
func (r *Runner) runFlow(ctx context.Context, f *flow.Flow, runID int64, ctl *runControl, lr *liveRun) (engine.Stats, error) {
	// Plugin log lines carry the flow and the run (the registry adds the
	// component).
	ctx = registry.WithLogFields(ctx, "flow", f.Name, "run", runID)
	f.Normalize()
	if err := engine.CheckConfinement(ctx, r.opts.Registry, f); err != nil {
		return engine.Stats{}, err
	}
	if f.Runtime.Type == builtin.HostRuntime {
		eng := engine.New(engine.Options{
			Registry:    r.opts.Registry,
			Logger:      r.opts.Logger,
			Checkpoints: r.opts.Store.LeasedCheckpoints(r.opts.HostID, r.opts.LeaseTTL),
			DataDir:     r.opts.DataDir,
			Stop:        ctl.stop,
			Cancel:      ctl.cancelC,
			Suspend:     true,
			// Rejected records go into the checkpoint's own transaction.
			RejectedInStore: true,
			Fault:           r.opts.Fault,
			RunTimeout:      r.opts.RunTimeout,
			OnEvent: func(ev engine.Event) {
				lr.event(ev)
				if r.opts.OnEngineEvent != nil {
					r.opts.OnEngineEvent(runID, ev)
				}
			},
		})
		res, err := eng.Run(ctx, f, strconv.FormatInt(runID, 10))
		if err == nil && res.Suspended {
			err = ErrSuspended
		}
		return res.Stats, err
	}
	ctx, cancel := engine.WithRunTimeout(ctx, f, r.opts.RunTimeout)
	defer cancel()
	run, err := r.opts.Store.GetRun(ctx, runID)
	if err != nil {
		return engine.Stats{}, err
	}
	// The runtime's run id names the run across stores (the runtime derives
	// its job id from it, and several ADF installations may share a
	// cluster): the store's run id and when the run was scheduled.
	key := fmt.Sprintf("%d-%d", runID, run.ScheduledFor.UnixMicro())
	stats, err := RunOnPlugin(ctx, r.opts.Registry, f, key, PluginRun{
		JobID:     run.RuntimeJobID,
		Submitted: func(jobID string) error { return r.opts.Store.SetRuntimeJob(context.WithoutCancel(ctx), runID, jobID) },
		Detach:    r.stop,
		Progress:  lr.runtimeStats,
	})
	if terr := engine.TimedOut(ctx); terr != nil {
		err = terr
	}
	if errors.Is(err, ErrDetached) {
		// The host is stopping; the job goes on and the run's next
		// attempt follows it.
		err = ErrSuspended
	}
	return stats, err
}

// ErrSuspended marks a run attempt suspended by the host's shutdown (or by
// a stop request, before its final checkpoint): the run resumes from its
// last checkpoint. Observe gets it as the attempt's error.
var ErrSuspended = errors.New("run suspended by shutdown")

// isPermanent says whether running the job again cannot help: a missing
// plugin, an error whose code says retrying cannot help (bad config, refused
// credentials, bad records under on_error: fail), or a retryable failure the
// engine already retried until the flow's retry_deadline. Other errors (the
// store was unreachable, the host is stopping) get the queue's retries.
func isPermanent(err error) bool {
	var missing *registry.MissingError
	var exhausted *engine.RetriesExhaustedError
	if errors.As(err, &missing) || errors.As(err, &exhausted) || errors.Is(err, store.ErrNotFound) {
		return true
	}
	var list sdk.ConfigErrors
	if errors.As(err, &list) {
		return true
	}
	var se *sdk.Error
	return errors.As(err, &se) && !se.Retryable()
}

// Backtrace renders an error's chain, one wrapped layer per line, with the
// details plugins attached (diagnostics, plugin stack traces).
func Backtrace(err error) string {
	var b strings.Builder
	for depth := 0; err != nil && depth < 32; depth++ {
		fmt.Fprintf(&b, "%d: %T: %s\n", depth, err, err.Error())
		var se *sdk.Error
		if errors.As(err, &se) && se.Detail != "" && depth == 0 {
			fmt.Fprintf(&b, "   plugin diagnostic: code=%s field=%s transient=%v\n   %s\n", se.Code, se.Field, se.Transient, strings.ReplaceAll(se.Detail, "\n", "\n   "))
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				b.WriteString(indent(Backtrace(e)))
			}
			break
		}
		err = errors.Unwrap(err)
	}
	return b.String()
}

func indent(s string) string {
	return "   " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n   ") + "\n"
}

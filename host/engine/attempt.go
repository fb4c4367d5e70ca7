package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/activedataflow/adf/host/registry"
	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// attempt is one try at a run: fresh plugin processes, resumed from the last
// checkpoint.
type attempt struct {
	e     *Engine
	f     *flow.Flow
	runID string
	plan  *plan
	cp    *Checkpoint
	dl    *deadLetter
	log   hclog.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc

	instances []*registry.Instance
	srcPid    int
	sinkPid   int
	enum      *enumConn
	readers   []*readerConn
	sink      *sinkConn

	// sinkCh carries batches and barriers from the readers to the sink
	// writer, in the order the readers delivered them.
	sinkCh chan sinkItem
	// ctl carries reader control events to the coordinator.
	ctl chan readerCtl
	// flushed carries completed sink flushes to the coordinator.
	flushed chan flushDone

	resumeMu sync.Mutex
	resume   map[int64]chan struct{}
	finalID  atomic.Int64
	// lastID is the highest checkpoint id used so far in this process.
	lastID int64

	closing atomic.Bool
	// failure is the attempt's reason to fail; see fail.
	failMu  sync.Mutex
	failure error
	// decided is closed when failure holds a plugin's own reason.
	decided chan struct{}
	// suspended is set when the attempt ended on a stop request without
	// finishing the run (Options.Suspend); cancelled when it ended with a
	// final checkpoint on a cancel request (Options.Cancel).
	suspended, cancelled bool

	liveRead     atomic.Int64
	liveWritten  atomic.Int64
	liveRejected atomic.Int64
	// liveBytes are the source bytes read in this attempt; baseBytes those
	// of the checkpoint it started from.
	liveBytes atomic.Int64
	baseBytes int64
	committed Stats
	// book is the split assignment as the coordinator routes it.
	book *splitBook
	// lastSaved is the last checkpoint this attempt saved.
	lastSaved *Checkpoint
}

// sinkItem is a batch or a checkpoint barrier of one reader.
type sinkItem struct {
	ipc     []byte
	rows    int64
	barrier *barrier
}

// barrier is a reader's part of a checkpoint: its split states and what it
// read since the previous checkpoint (rows, source bytes, the splits it
// finished, the records it rejected).
type barrier struct {
	checkpointID int64
	reader       int
	splits       []SplitState
	rows         int64
	bytes        int64
	finished     []string
	rejected     []Rejected
}

// readerCtl is a reader's event for the coordinator: one field is set.
type readerCtl struct {
	reader       int
	splitRequest *adfv1.ReaderEvent_SplitRequest
	// finished: the reader has read everything and was told no more comes.
	finished bool
	// splitsFinished are splits the reader read to their end.
	splitsFinished []string
	// lag is the reader's report of its splits' lag.
	lag map[string]int64
}

type flushDone struct {
	checkpointID int64
	barriers     []*barrier
	flushed      *adfv1.SinkEvent_Flushed
	rejected     []Rejected
}

func newAttempt(ctx context.Context, e *Engine, f *flow.Flow, runID string, p *plan, cp *Checkpoint, dl *deadLetter, lastID int64, log hclog.Logger) *attempt {
	actx, cancel := context.WithCancelCause(ctx)
	a := &attempt{
		e: e, f: f, runID: runID, plan: p, cp: cp, dl: dl, log: log, lastID: lastID,
		ctx: actx, cancel: cancel, decided: make(chan struct{}),
		sinkCh:  make(chan sinkItem, 2*f.Parallelism),
		ctl:     make(chan readerCtl, 4*f.Parallelism),
		flushed: make(chan flushDone, 1),
		resume:  map[int64]chan struct{}{},
		book:    newSplitBook(),
	}
	a.finalID.Store(-1)
	if cp != nil {
		a.committed = cp.Stats
		a.baseBytes = cp.Stats.BytesRead
		a.lastID = max(a.lastID, cp.ID)
	}
	return a
}

// fail ends the attempt with err (the first error wins).
//
// A broken stream with no reason attached (a process that ended, a stream
// closed early) often arrives a moment before the plugin's own reason on
// another stream: a source whose Start failed reports not_found on its
// enumerator stream while its reader streams end. The reason decides
// whether the run is retried, so a reasonless failure waits reasonGrace
// before cancelling the streams that may still carry it, and a reason that
// comes meanwhile takes its place.
func (a *attempt) fail(err error) {
	a.failMu.Lock()
	if a.failure == nil || (reasonless(a.failure) && !reasonless(err)) {
		a.failure = err
		if !reasonless(err) {
			close(a.decided)
		}
	}
	a.failMu.Unlock()
	if reasonless(err) {
		time.AfterFunc(reasonGrace, func() { a.cancel(err) })
		return
	}
	a.cancel(err)
}

// reasonGrace is how long a reasonless failure waits for a plugin's reason.
const reasonGrace = 300 * time.Millisecond

// reasonless says whether err is a broken stream or process with no
// structured error from the plugin.
func reasonless(err error) bool {
	var t *transientError
	var se *sdk.Error
	return errors.As(err, &t) && !errors.As(err, &se)
}

// outcome is the error the attempt ends with, given the one its last step
// returned: the recorded failure, after waiting (up to reasonGrace) for a
// plugin's reason when the failure so far has none.
func (a *attempt) outcome(err error) error {
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errPeerEnded) {
		a.fail(err)
	}
	a.failMu.Lock()
	f := a.failure
	a.failMu.Unlock()
	if f == nil {
		return err
	}
	if reasonless(f) {
		select {
		case <-a.decided:
		case <-time.After(reasonGrace):
		}
		a.failMu.Lock()
		f = a.failure
		a.failMu.Unlock()
	}
	return f
}

// errPeerEnded marks a send on a stream the plugin had ended: the attempt
// already failed with the plugin's own reason.
var errPeerEnded = errors.New("plugin ended the stream")

// sent handles a stream Send's error. gRPC answers a Send on a stream the
// plugin ended (after sending its error event, say) with io.EOF, and keeps
// the reason for the receiving side: wait for that side to fail the attempt
// with it, so the plugin's diagnostic (a SQLSTATE, a Redis error) is what
// the run reports, not the bare end of the stream.
func (a *attempt) sent(err error) error {
	if err != io.EOF || a.closing.Load() {
		return err
	}
	select {
	case <-a.ctx.Done():
		return errPeerEnded
	case <-time.After(5 * time.Second):
		return err
	}
}

// streamErr classifies an error from a plugin stream: a broken stream (the
// process died, the connection dropped) is transient.
func (a *attempt) streamErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errPeerEnded) {
		return context.Cause(a.ctx)
	}
	if a.closing.Load() && (err == io.EOF || status.Code(err) == codes.Canceled) {
		return nil
	}
	if err == io.EOF {
		return transient(fmt.Errorf("%s: plugin ended the stream unexpectedly", what))
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled, codes.Internal, codes.Unknown, codes.DeadlineExceeded, codes.Aborted:
		return transient(fmt.Errorf("%s: plugin process failed: %w", what, err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

func diagErr(what string, d *adfv1.Diagnostic) error {
	return fmt.Errorf("%s: %w", what, sdk.ErrorFromDiagnostic(d))
}

// launchAll starts the attempt's plugin processes, all at once: a start
// is mostly waiting for a process to run and print its handshake. Every
// process started is the attempt's to stop, also when another failed.
func (a *attempt) launchAll(roles []string, ents []registry.Entry) ([]*registry.Instance, error) {
	insts := make([]*registry.Instance, len(ents))
	errs := make([]error, len(ents))
	var wg sync.WaitGroup
	for i := range ents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			insts[i], errs[i] = a.e.opts.Registry.Launch(a.ctx, ents[i])
		}()
	}
	wg.Wait()
	for i, inst := range insts {
		if inst == nil {
			continue
		}
		a.instances = append(a.instances, inst)
		a.e.emit(Event{Kind: "plugin_started", Role: roles[i], Pid: inst.Pid()})
		a.log.Debug("plugin started", "role", roles[i], "pid", inst.Pid(), "plugin", ents[i].Plugin.Name)
	}
	for i, err := range errs {
		if err != nil {
			return nil, transient(fmt.Errorf("%s: %w", roles[i], err))
		}
	}
	return insts, nil
}

func (a *attempt) cleanup() {
	a.closing.Store(true)
	a.cancel(context.Canceled)
	for _, inst := range a.instances {
		inst.Kill()
	}
}

// run executes the attempt to its end.
func (a *attempt) run() (err error) {
	defer a.cleanup()
	if err := a.start(); err != nil {
		return a.outcome(err)
	}
	if a.cp != nil && a.cp.Final {
		// The run had finished; start completed its final checkpoint again.
		a.emitProgress()
		return a.outcome(a.finish())
	}
	err = a.coordinate()
	if cause := context.Cause(a.ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	return a.outcome(err)
}

// start launches the plugins and opens every stream.
func (a *attempt) start() error {
	if err := a.dl.restore(a.cp); err != nil {
		return err
	}
	if a.cp != nil {
		a.log.Info("resuming from checkpoint", "checkpoint", a.cp.ID, "rows_read", a.cp.Stats.RowsRead, "final", a.cp.Final)
	}
	roles := []string{"source", "sink"}
	ents := []registry.Entry{a.plan.source, a.plan.sink}
	for _, st := range a.plan.stages {
		if st.builtin == nil && !slices.Contains(roles, "transform:"+st.typ) {
			roles, ents = append(roles, "transform:"+st.typ), append(ents, st.plugin)
		}
	}
	insts, err := a.launchAll(roles, ents)
	if err != nil {
		return err
	}
	srcInst, sinkInst := insts[0], insts[1]
	a.srcPid, a.sinkPid = srcInst.Pid(), sinkInst.Pid()
	transforms := map[string]*registry.Instance{}
	for i, role := range roles[2:] {
		transforms[strings.TrimPrefix(role, "transform:")] = insts[2+i]
	}

	// Enumerator.
	a.enum, err = openEnumerator(a, srcInst)
	if err != nil {
		return err
	}
	// Each stream is read from the moment it is open: a plugin that fails
	// while the rest starts sends its reason there, and a send on a stream
	// it ended waits for that reason (sent).
	go a.enum.recvLoop()
	// Sink.
	a.sink, err = openSink(a, sinkInst)
	if err != nil {
		return err
	}
	go a.sink.recvLoop()
	// Readers.
	for i := 0; i < a.f.Parallelism; i++ {
		var restored []SplitState
		if a.cp != nil && i < len(a.cp.Readers) {
			restored = a.cp.Readers[i]
		}
		stages, err := a.openStages(transforms)
		if err != nil {
			return err
		}
		r, err := openReader(a, srcInst, i, restored, stages)
		if err != nil {
			return err
		}
		a.readers = append(a.readers, r)
	}
	for i := range a.readers {
		if err := a.enum.addReader(i); err != nil {
			return err
		}
	}
	// Splits of readers that no longer exist (parallelism lowered) go back.
	if a.cp != nil {
		for i := a.f.Parallelism; i < len(a.cp.Readers); i++ {
			if len(a.cp.Readers[i]) == 0 {
				continue
			}
			if err := a.enum.addSplitsBack(i, a.cp.Readers[i]); err != nil {
				return err
			}
		}
	}
	// A restored attempt shows the assignment it resumes at once.
	a.book.restore(a.cp, len(a.readers))
	a.emitSplits()
	if a.cp != nil {
		// Before any new data: complete the restored checkpoint again, in
		// case the crash came between its save and its completion.
		if err := a.complete(a.cp, true); err != nil {
			return err
		}
	}
	for _, r := range a.readers {
		go r.loop()
	}
	go a.sinkLoop()
	return nil
}

// pending is a checkpoint in progress.
type pending struct {
	id    int64
	final bool
	// last ends the attempt after this checkpoint without publishing (a
	// suspended unbounded run: it resumes from here later).
	last    bool
	started time.Time
	enum    []byte
	gotEnum bool
}

// coordinate is the attempt's control loop: it routes split assignments,
// triggers checkpoints and commits them. Each case is one step of the
// protocol; the split book follows the assignment for progress, and a
// splits event goes out after every step that changed it.
func (a *attempt) coordinate() error {
	nextID := a.lastID + 1
	every := a.f.Checkpoint.Every.D()
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	progress := time.NewTicker(250 * time.Millisecond)
	defer progress.Stop()
	var cur *pending
	finished := map[int]bool{}
	bounded := true
	// stopping: the final checkpoint of a stop or cancel request is under
	// way; cancelling: of a cancel request, so it publishes even when
	// stops suspend.
	stopping, cancelling := false, false

	trigger := func(final bool) error {
		cur = &pending{id: nextID, final: final, started: time.Now()}
		if final && stopping && a.e.opts.Suspend && !cancelling {
			cur.final, cur.last = false, true
		}
		a.lastID = nextID
		nextID++
		if cur.final {
			a.finalID.Store(cur.id)
		}
		a.resumeMu.Lock()
		a.resume[cur.id] = make(chan struct{})
		a.resumeMu.Unlock()
		return a.enum.snapshotState(cur.id)
	}
	allFinished := func() bool { return len(finished) == len(a.readers) }

	for {
		a.emitSplits()
		select {
		case <-a.ctx.Done():
			return context.Cause(a.ctx)

		case ev := <-a.enum.events:
			switch e := ev.Event.(type) {
			case *adfv1.EnumeratorEvent_Started_:
				bounded = e.Started.Bounded
			case *adfv1.EnumeratorEvent_SplitsDiscovered_:
				a.book.discovered(e.SplitsDiscovered.Splits)
			case *adfv1.EnumeratorEvent_AssignSplits_:
				r, err := a.reader(int(e.AssignSplits.ReaderId))
				if err != nil {
					return err
				}
				if err := r.addSplits(e.AssignSplits.Splits); err != nil {
					return err
				}
				a.book.assigned(r.id, e.AssignSplits.Splits)
			case *adfv1.EnumeratorEvent_NoMoreSplits_:
				r, err := a.reader(int(e.NoMoreSplits.ReaderId))
				if err != nil {
					return err
				}
				if err := r.noMoreSplits(); err != nil {
					return err
				}
			case *adfv1.EnumeratorEvent_State_:
				if cur == nil || e.State.CheckpointId != cur.id {
					return fmt.Errorf("enumerator answered snapshot %d, expected %v", e.State.CheckpointId, cur)
				}
				cur.enum, cur.gotEnum = e.State.State, true
				// Every assignment made before the snapshot has been routed
				// above; now the readers snapshot behind them.
				for _, r := range a.readers {
					if err := r.snapshot(cur.id); err != nil {
						return err
					}
				}
			case *adfv1.EnumeratorEvent_Ack_:
				// (An Error event fails the attempt in enumConn.recvLoop.)
			}

		case c := <-a.ctl:
			switch {
			case c.splitRequest != nil:
				if err := a.enum.splitRequest(c.reader, c.splitRequest.Hostname); err != nil {
					return err
				}
			case c.splitsFinished != nil:
				a.book.finishedBy(c.reader, c.splitsFinished)
			case c.lag != nil:
				a.book.lag(c.lag)
				a.e.emit(Event{Kind: "lag", Lag: c.lag})
			case c.finished:
				finished[c.reader] = true
				if allFinished() && cur == nil {
					if err := trigger(true); err != nil {
						return err
					}
				}
			}

		case <-ticker.C:
			if cur == nil && !allFinished() && !(bounded && a.e.cancelRequested()) {
				if err := trigger(false); err != nil {
					return err
				}
			} else if cur != nil && time.Since(cur.started) > a.e.opts.CheckpointTimeout {
				return transient(fmt.Errorf("checkpoint %d did not complete within %s (a plugin is hung)", cur.id, a.e.opts.CheckpointTimeout))
			}

		case <-progress.C:
			a.emitProgress()
			// A cancelled bounded run ends between checkpoints: one in
			// flight completes first, so no sink is left holding a
			// pre-commit that no later attempt would resolve.
			if bounded && cur == nil && a.e.cancelRequested() {
				return ErrCancelled
			}
			if !bounded && !stopping && cur == nil && (a.e.stopRequested() || a.e.cancelRequested()) {
				stopping, cancelling = true, a.e.cancelRequested()
				if err := trigger(true); err != nil {
					return err
				}
				if cancelling {
					a.log.Info("run cancelled: taking its final checkpoint", "checkpoint", cur.id)
				}
			}

		case done := <-a.flushed:
			if cur == nil || done.checkpointID != cur.id || !cur.gotEnum {
				return fmt.Errorf("sink flushed checkpoint %d out of order", done.checkpointID)
			}
			if err := a.checkpoint(cur, done); err != nil {
				return err
			}
			if cur.final || cur.last {
				a.suspended, a.cancelled = cur.last, cancelling
				a.emitSplits()
				a.emitProgress()
				return a.finish()
			}
			cur = nil
			if bounded && a.e.cancelRequested() {
				return ErrCancelled
			}
			if allFinished() {
				if err := trigger(true); err != nil {
					return err
				}
			}
		}
	}
}

// emitSplits sends a splits event when the book changed since the last.
func (a *attempt) emitSplits() {
	if a.book.takeChange() {
		a.e.emit(Event{Kind: "splits", Splits: a.book.list()})
	}
}

// emitProgress sends the live counts.
func (a *attempt) emitProgress() {
	a.e.emit(Event{Kind: "progress", RowsRead: a.liveRead.Load(), RowsWritten: a.liveWritten.Load(),
		RowsRejected: a.liveRejected.Load(), BytesRead: a.baseBytes + a.liveBytes.Load(), BytesTotal: a.book.total()})
}

func (a *attempt) reader(id int) (*readerConn, error) {
	if id < 0 || id >= len(a.readers) {
		return nil, fmt.Errorf("enumerator assigned to reader %d, but the flow has %d readers", id, len(a.readers))
	}
	return a.readers[id], nil
}

// checkpoint persists a pre-committed checkpoint, completes it, and lets the
// readers go on.
func (a *attempt) checkpoint(p *pending, done flushDone) error {
	stats := a.committed
	cp := &Checkpoint{ID: p.id, Enumerator: p.enum, Readers: make([][]SplitState, len(a.readers)),
		Sink: done.flushed.State, Committables: done.flushed.Committables, Final: p.final, Time: time.Now().UTC()}
	var rejects []Rejected
	finished := map[int][]string{}
	for _, b := range done.barriers {
		cp.Readers[b.reader] = b.splits
		stats.RowsRead += b.rows
		stats.BytesRead += b.bytes
		finished[b.reader] = b.finished
		rejects = append(rejects, b.rejected...)
	}
	var prev *SplitProgress
	if a.lastSaved != nil {
		prev = a.lastSaved.Progress
	} else if a.cp != nil {
		prev = a.cp.Progress
	}
	cp.Progress = a.book.progressOf(prev, finished)
	rejects = append(rejects, done.rejected...)
	stats.RowsRejected += int64(len(rejects))
	stats.RowsWritten += done.flushed.RowsWritten
	stats.BytesWritten += done.flushed.BytesWritten
	stats.Checkpoints++
	cp.Stats = stats
	stored, dead, err := a.dl.part(rejects)
	if err != nil {
		return err
	}
	cp.DeadLetters = dead
	a.at(FaultPreCommitted, cp)
	if err := a.e.opts.Checkpoints.Save(a.ctx, a.f.Name, a.runID, cp, stored); err != nil {
		return transient(fmt.Errorf("persist checkpoint %d: %w", p.id, err))
	}
	a.committed = stats
	a.lastSaved = cp
	a.log.Debug("checkpoint saved", "id", p.id, "rows_read", stats.RowsRead, "rows_written", stats.RowsWritten, "final", p.final)
	a.e.emit(Event{Kind: "checkpoint", Checkpoint: cp})
	a.at(FaultSaved, cp)
	if err := a.complete(cp, false); err != nil {
		return err
	}
	a.resumeMu.Lock()
	close(a.resume[p.id])
	delete(a.resume, p.id)
	a.resumeMu.Unlock()
	return nil
}

// complete runs the steps after a checkpoint is durable: the sink commits
// its committables, the dead letters are written, the sources are told. A
// restored attempt runs it again for the restored checkpoint (restored set);
// every step is idempotent.
func (a *attempt) complete(cp *Checkpoint, restored bool) error {
	if err := a.sink.commit(cp, restored); err != nil {
		return err
	}
	a.at(FaultCommitted, cp)
	if err := a.dl.commit(cp.DeadLetters); err != nil {
		return err
	}
	// Only now may sources acknowledge upstream.
	if err := a.enum.checkpointComplete(cp.ID); err != nil {
		return err
	}
	for _, r := range a.readers {
		if err := r.checkpointComplete(cp.ID); err != nil {
			return err
		}
	}
	return nil
}

// finish closes every stream after the final checkpoint and waits until the
// plugins have handled the last checkpoint-complete notifications.
func (a *attempt) finish() error {
	a.closing.Store(true)
	for _, r := range a.readers {
		_ = r.send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_Close_{Close: &adfv1.ReaderCommand_Close{}}})
	}
	_ = a.enum.stream.CloseSend()
	_ = a.sink.stream.CloseSend()
	timeout := time.After(30 * time.Second)
	waits := []<-chan struct{}{a.enum.done, a.sink.done}
	for _, r := range a.readers {
		waits = append(waits, r.done)
	}
	for _, w := range waits {
		select {
		case <-w:
		case <-timeout:
			a.log.Warn("plugins did not close in time after the final checkpoint")
			return nil
		}
	}
	return nil
}

// resumeChan returns the channel closed when checkpoint id commits.
func (a *attempt) resumeChan(id int64) chan struct{} {
	a.resumeMu.Lock()
	defer a.resumeMu.Unlock()
	return a.resume[id]
}

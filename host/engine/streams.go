package engine

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/activedataflow/adf/host/registry"
	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk/arrowipc"
)

// enumConn is the enumerator stream.
type enumConn struct {
	a      *attempt
	stream adfv1.Source_EnumeratorClient
	mu     sync.Mutex
	events chan *adfv1.EnumeratorEvent
	done   chan struct{}
}

func openEnumerator(a *attempt, inst *registry.Instance) (*enumConn, error) {
	stream, err := inst.Source().Enumerator(a.ctx)
	if err != nil {
		return nil, a.streamErr("source enumerator", err)
	}
	c := &enumConn{a: a, stream: stream, events: make(chan *adfv1.EnumeratorEvent, 64), done: make(chan struct{})}
	start := &adfv1.EnumeratorCommand_Start{Type: a.f.Source.Type, Config: a.f.Source.Config,
		Parallelism: int32(a.f.Parallelism), Flow: a.f.Name, RunId: a.runID}
	if a.cp != nil {
		start.RestoredState, start.HasRestoredState = a.cp.Enumerator, true
	}
	if err := c.send(&adfv1.EnumeratorCommand{Command: &adfv1.EnumeratorCommand_Start_{Start: start}}); err != nil {
		return nil, a.streamErr("source enumerator", err)
	}
	return c, nil
}

func (c *enumConn) send(cmd *adfv1.EnumeratorCommand) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.a.sent(c.stream.Send(cmd))
}

// addReader registers reader id with the enumerator.
func (c *enumConn) addReader(id int) error {
	return c.a.streamErr("source enumerator", c.send(&adfv1.EnumeratorCommand{Command: &adfv1.EnumeratorCommand_AddReader_{
		AddReader: &adfv1.EnumeratorCommand_AddReader{ReaderId: int32(id)}}}))
}

// addSplitsBack returns splits of a reader that is gone to the enumerator.
func (c *enumConn) addSplitsBack(reader int, splits []SplitState) error {
	ps := make([]*adfv1.Split, 0, len(splits))
	for _, s := range splits {
		ps = append(ps, &adfv1.Split{Id: s.ID, Data: s.Data, SizeBytes: s.SizeBytes})
	}
	c.a.book.returned(ps)
	return c.a.streamErr("source enumerator", c.send(&adfv1.EnumeratorCommand{Command: &adfv1.EnumeratorCommand_AddSplitsBack_{
		AddSplitsBack: &adfv1.EnumeratorCommand_AddSplitsBack{ReaderId: int32(reader), Splits: ps}}}))
}

// splitRequest forwards a reader's request for a split.
func (c *enumConn) splitRequest(reader int, hostname string) error {
	return c.a.streamErr("source enumerator", c.send(&adfv1.EnumeratorCommand{Command: &adfv1.EnumeratorCommand_SplitRequest_{
		SplitRequest: &adfv1.EnumeratorCommand_SplitRequest{ReaderId: int32(reader), Hostname: hostname}}}))
}

// snapshotState asks the enumerator for its state of checkpoint id.
func (c *enumConn) snapshotState(id int64) error {
	return c.a.streamErr("source enumerator", c.send(&adfv1.EnumeratorCommand{Command: &adfv1.EnumeratorCommand_SnapshotState_{
		SnapshotState: &adfv1.EnumeratorCommand_SnapshotState{CheckpointId: id}}}))
}

// checkpointComplete tells the enumerator that a checkpoint is durable.
func (c *enumConn) checkpointComplete(id int64) error {
	err := c.send(&adfv1.EnumeratorCommand{Command: &adfv1.EnumeratorCommand_CheckpointComplete_{
		CheckpointComplete: &adfv1.EnumeratorCommand_CheckpointComplete{CheckpointId: id}}})
	return c.a.streamErr("source enumerator", err)
}

func (c *enumConn) recvLoop() {
	defer close(c.done)
	for {
		ev, err := c.stream.Recv()
		if err != nil {
			if err := c.a.streamErr("source enumerator", err); err != nil {
				c.a.fail(err)
			}
			return
		}
		if d := ev.GetError(); d != nil {
			// The enumerator's reason fails the attempt at once, even
			// before the coordinator reads events (while the rest starts).
			c.a.fail(diagErr("source enumerator", d))
			return
		}
		select {
		case c.events <- ev:
		case <-c.a.ctx.Done():
			return
		}
	}
}

// sinkConn is the sink stream.
type sinkConn struct {
	a      *attempt
	stream adfv1.Sink_WriteClient
	// twoPhase: the sink answers Commit; otherwise it is a one-phase sink
	// that gets CheckpointComplete.
	twoPhase  bool
	mu        sync.Mutex
	flushed   chan flushDone
	committed chan int64
	done      chan struct{}
}

func openSink(a *attempt, inst *registry.Instance) (*sinkConn, error) {
	stream, err := inst.Sink().Write(a.ctx)
	if err != nil {
		return nil, a.streamErr("sink", err)
	}
	caps := a.plan.sink.Capabilities
	c := &sinkConn{a: a, stream: stream, twoPhase: caps != nil && caps.TwoPhase,
		flushed: make(chan flushDone, 1), committed: make(chan int64, 1), done: make(chan struct{})}
	open := &adfv1.SinkCommand_Open{Type: a.f.Sink.Type, Config: a.f.Sink.Config, Flow: a.f.Name, RunId: a.runID}
	if a.cp != nil {
		open.RestoredState, open.HasRestoredState, open.RestoredCheckpointId = a.cp.Sink, true, a.cp.ID
	}
	if err := c.send(&adfv1.SinkCommand{Command: &adfv1.SinkCommand_Open_{Open: open}}); err != nil {
		return nil, a.streamErr("sink", err)
	}
	return c, nil
}

func (c *sinkConn) send(cmd *adfv1.SinkCommand) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.a.sent(c.stream.Send(cmd))
}

// commit has the sink publish a durable checkpoint's committables and waits
// for its answer. A one-phase sink is only told the checkpoint is complete
// (and nothing on restore: it cannot re-commit).
func (c *sinkConn) commit(cp *Checkpoint, restored bool) error {
	if !c.twoPhase {
		if restored {
			return nil
		}
		return c.a.streamErr("sink", c.send(&adfv1.SinkCommand{Command: &adfv1.SinkCommand_CheckpointComplete_{
			CheckpointComplete: &adfv1.SinkCommand_CheckpointComplete{CheckpointId: cp.ID}}}))
	}
	if err := c.send(&adfv1.SinkCommand{Command: &adfv1.SinkCommand_Commit_{Commit: &adfv1.SinkCommand_Commit{
		CheckpointId: cp.ID, Committables: cp.Committables, Restored: restored, Final: cp.Final}}}); err != nil {
		return c.a.streamErr("sink", err)
	}
	c.a.at(FaultCommitting, cp)
	timeout := time.NewTimer(c.a.e.opts.CheckpointTimeout)
	defer timeout.Stop()
	select {
	case id := <-c.committed:
		if id != cp.ID {
			return fmt.Errorf("sink answered the commit of checkpoint %d with %d", cp.ID, id)
		}
		return nil
	case <-timeout.C:
		return transient(fmt.Errorf("sink: commit of checkpoint %d did not complete within %s (the sink plugin is hung)", cp.ID, c.a.e.opts.CheckpointTimeout))
	case <-c.a.ctx.Done():
		return context.Cause(c.a.ctx)
	}
}

// recvLoop handles the sink's answers: rejected rows are held for the
// checkpoint they belong to; Flushed completes it.
func (c *sinkConn) recvLoop() {
	defer close(c.done)
	var rejects []Rejected
	for {
		ev, err := c.stream.Recv()
		if err != nil {
			if err := c.a.streamErr("sink", err); err != nil {
				c.a.fail(err)
			}
			return
		}
		switch e := ev.Event.(type) {
		case *adfv1.SinkEvent_Rejected:
			for _, r := range e.Rejected.Records {
				rec := c.a.dl.record("sink", r.SplitId, r.Position, r.Reason, r.Raw)
				if err := c.a.dl.check(rec); err != nil {
					c.a.fail(err)
					return
				}
				rejects = append(rejects, rec)
				c.a.liveRejected.Add(1)
			}
		case *adfv1.SinkEvent_Flushed_:
			c.a.liveWritten.Add(e.Flushed.RowsWritten)
			select {
			case c.flushed <- flushDone{checkpointID: e.Flushed.CheckpointId, flushed: e.Flushed, rejected: rejects}:
			case <-c.a.ctx.Done():
				return
			}
			rejects = nil
		case *adfv1.SinkEvent_Committed_:
			select {
			case c.committed <- e.Committed.CheckpointId:
			case <-c.a.ctx.Done():
				return
			}
		case *adfv1.SinkEvent_Error:
			c.a.fail(diagErr("sink", e.Error))
			return
		}
	}
}

// sinkLoop writes batches to the sink in arrival order and flushes when every
// reader's barrier of a checkpoint has arrived. Readers wait after their
// barrier until the checkpoint commits, so no batch read after a snapshot
// reaches the sink before the flush that the snapshot belongs to.
func (a *attempt) sinkLoop() {
	barriers := map[int64][]*barrier{}
	for {
		var item sinkItem
		select {
		case item = <-a.sinkCh:
		case <-a.ctx.Done():
			return
		}
		if item.barrier == nil {
			if err := a.sink.send(&adfv1.SinkCommand{Command: &adfv1.SinkCommand_Batch_{
				Batch: &adfv1.SinkCommand_Batch{ArrowIpc: item.ipc}}}); err != nil {
				a.fail(a.streamErr("sink", err))
				return
			}
			continue
		}
		b := item.barrier
		barriers[b.checkpointID] = append(barriers[b.checkpointID], b)
		if len(barriers[b.checkpointID]) < len(a.readers) {
			continue
		}
		final := a.finalID.Load() == b.checkpointID
		if err := a.sink.send(&adfv1.SinkCommand{Command: &adfv1.SinkCommand_Flush_{
			Flush: &adfv1.SinkCommand_Flush{CheckpointId: b.checkpointID, Final: final}}}); err != nil {
			a.fail(a.streamErr("sink", err))
			return
		}
		var done flushDone
		select {
		case done = <-a.sink.flushed:
		case <-a.ctx.Done():
			return
		}
		if done.checkpointID != b.checkpointID {
			a.fail(fmt.Errorf("sink answered flush %d with %d", b.checkpointID, done.checkpointID))
			return
		}
		done.barriers = barriers[b.checkpointID]
		delete(barriers, b.checkpointID)
		select {
		case a.flushed <- done:
		case <-a.ctx.Done():
			return
		}
	}
}

// readerConn is one reader stream and the host goroutine that drains it.
type readerConn struct {
	a      *attempt
	id     int
	stream adfv1.Source_ReaderClient
	mu     sync.Mutex
	stages []stage
	done   chan struct{}

	// Since the last barrier.
	rows     int64
	bytes    int64
	finished []string
	rejected []Rejected
}

func openReader(a *attempt, inst *registry.Instance, id int, restored []SplitState, stages []stage) (*readerConn, error) {
	what := fmt.Sprintf("source reader %d", id)
	stream, err := inst.Source().Reader(a.ctx)
	if err != nil {
		return nil, a.streamErr(what, err)
	}
	r := &readerConn{a: a, id: id, stream: stream, stages: stages, done: make(chan struct{})}
	open := &adfv1.ReaderCommand_Open{Type: a.f.Source.Type, Config: a.f.Source.Config, ReaderId: int32(id),
		InitialCredits: uint32(a.e.opts.Credits), Flow: a.f.Name, RunId: a.runID, Columns: a.plan.sourceColumns}
	for _, s := range restored {
		open.RestoredSplits = append(open.RestoredSplits, &adfv1.Split{Id: s.ID, Data: s.Data})
	}
	if err := r.send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_Open_{Open: open}}); err != nil {
		return nil, a.streamErr(what, err)
	}
	return r, nil
}

func (r *readerConn) send(cmd *adfv1.ReaderCommand) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.a.sent(r.stream.Send(cmd))
}

// receive reads the reader's stream ahead of the loop that handles its
// events, so that the reader's error (or the stream's end) fails the attempt
// as soon as it arrives, even while the loop waits for a checkpoint to
// commit or for the sink. The buffer holds what a reader may send without
// a credit back, and its control events. The channel is closed when the
// stream ends.
func (r *readerConn) receive(what string) <-chan *adfv1.ReaderEvent {
	out := make(chan *adfv1.ReaderEvent, r.a.e.opts.Credits+16)
	go func() {
		defer close(out)
		for {
			ev, err := r.stream.Recv()
			if err != nil {
				if err := r.a.streamErr(what, err); err != nil {
					r.a.fail(err)
				}
				return
			}
			if e, ok := ev.Event.(*adfv1.ReaderEvent_Error); ok {
				r.a.fail(diagErr(what, e.Error))
				return
			}
			select {
			case out <- ev:
			case <-r.a.ctx.Done():
				return
			}
		}
	}()
	return out
}

// credit returns one batch credit to the reader. It runs on the goroutine
// that receives the reader's events, so a stream the plugin ended (io.EOF)
// is no error here: its reason is the next event this goroutine receives.
func (r *readerConn) credit() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.stream.Send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_Credit_{
		Credit: &adfv1.ReaderCommand_Credit{Batches: 1}}})
	if err == io.EOF {
		return nil
	}
	return err
}

// addSplits hands the reader splits the enumerator assigned to it.
func (r *readerConn) addSplits(splits []*adfv1.Split) error {
	return r.a.streamErr(r.what(), r.send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_AddSplits_{
		AddSplits: &adfv1.ReaderCommand_AddSplits{Splits: splits}}}))
}

// noMoreSplits tells the reader that no split will come any more.
func (r *readerConn) noMoreSplits() error {
	return r.a.streamErr(r.what(), r.send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_NoMoreSplits_{
		NoMoreSplits: &adfv1.ReaderCommand_NoMoreSplits{}}}))
}

// snapshot asks the reader for its split states of checkpoint id.
func (r *readerConn) snapshot(id int64) error {
	return r.a.streamErr(r.what(), r.send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_Snapshot_{
		Snapshot: &adfv1.ReaderCommand_Snapshot{CheckpointId: id}}}))
}

func (r *readerConn) what() string { return fmt.Sprintf("source reader %d", r.id) }

// checkpointComplete tells the reader that a checkpoint is durable.
func (r *readerConn) checkpointComplete(id int64) error {
	err := r.send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_CheckpointComplete_{
		CheckpointComplete: &adfv1.ReaderCommand_CheckpointComplete{CheckpointId: id}}})
	return r.a.streamErr(fmt.Sprintf("source reader %d", r.id), err)
}

func (r *readerConn) ctl(c readerCtl) bool {
	select {
	case r.a.ctl <- c:
		return true
	case <-r.a.ctx.Done():
		return false
	}
}

// loop drains the reader's stream in order: batches go through the
// transforms to the sink (each one returns a credit), a state snapshot
// becomes a barrier after them.
func (r *readerConn) loop() {
	defer close(r.done)
	defer func() {
		for _, s := range r.stages {
			s.close()
		}
	}()
	a := r.a
	what := fmt.Sprintf("source reader %d", r.id)
	events := r.receive(what)
	for {
		var ev *adfv1.ReaderEvent
		select {
		case ev = <-events:
		case <-a.ctx.Done():
			return
		}
		if ev == nil {
			return
		}
		switch e := ev.Event.(type) {
		case *adfv1.ReaderEvent_Batch_:
			if err := r.batch(e.Batch); err != nil {
				a.fail(err)
				return
			}
			if err := r.credit(); err != nil {
				a.fail(a.streamErr(what, err))
				return
			}
		case *adfv1.ReaderEvent_Rejected_:
			for _, rr := range e.Rejected.Records {
				if err := r.reject(r.a.dl.record("source", rr.SplitId, rr.Position, rr.Reason, rr.Raw)); err != nil {
					a.fail(err)
					return
				}
			}
		case *adfv1.ReaderEvent_SplitRequest_:
			if !r.ctl(readerCtl{reader: r.id, splitRequest: e.SplitRequest}) {
				return
			}
		case *adfv1.ReaderEvent_Finished_:
			if !r.ctl(readerCtl{reader: r.id, finished: true}) {
				return
			}
		case *adfv1.ReaderEvent_SplitsFinished_:
			r.read(e.SplitsFinished.SourceBytes)
			r.finished = append(r.finished, e.SplitsFinished.SplitIds...)
			if !r.ctl(readerCtl{reader: r.id, splitsFinished: e.SplitsFinished.SplitIds}) {
				return
			}
		case *adfv1.ReaderEvent_Lag_:
			if !r.ctl(readerCtl{reader: r.id, lag: lagOf(e.Lag)}) {
				return
			}
		case *adfv1.ReaderEvent_State_:
			r.read(e.State.SourceBytes)
			b := &barrier{checkpointID: e.State.CheckpointId, reader: r.id, rows: r.rows, bytes: r.bytes, finished: r.finished, rejected: r.rejected}
			for _, s := range e.State.Splits {
				b.splits = append(b.splits, SplitState{ID: s.Id, Data: s.Data, SizeBytes: s.SizeBytes})
			}
			r.rows, r.bytes, r.finished, r.rejected = 0, 0, nil, nil
			resume := a.resumeChan(b.checkpointID)
			select {
			case a.sinkCh <- sinkItem{barrier: b}:
			case <-a.ctx.Done():
				return
			}
			// Hold this reader's later batches until the checkpoint commits.
			select {
			case <-resume:
			case <-a.ctx.Done():
				return
			}
		case *adfv1.ReaderEvent_Opened_:
		}
	}
}

func (r *readerConn) reject(rec Rejected) error {
	if err := r.a.dl.check(rec); err != nil {
		return err
	}
	r.rejected = append(r.rejected, rec)
	r.a.liveRejected.Add(1)
	return nil
}

// read counts source bytes the reader reported.
func (r *readerConn) read(n int64) {
	if n > 0 {
		r.bytes += n
		r.a.liveBytes.Add(n)
	}
}

// lagOf turns a reader's lag report into split id -> records.
func lagOf(l *adfv1.ReaderEvent_Lag) map[string]int64 {
	m := make(map[string]int64, len(l.Splits))
	for _, s := range l.Splits {
		m[s.SplitId] = s.Records
	}
	return m
}

// batch runs one batch through the transforms and hands it to the sink.
func (r *readerConn) batch(b *adfv1.ReaderEvent_Batch) error {
	r.rows += b.Rows
	r.a.liveRead.Add(b.Rows)
	r.read(b.SourceBytes)
	payload, rows := b.ArrowIpc, b.Rows
	if len(r.stages) > 0 {
		rec, err := arrowipc.Decode(b.ArrowIpc, nil)
		if err != nil {
			return err
		}
		for _, s := range r.stages {
			out, rejects, err := s.apply(r.a.ctx, rec, b.SplitId)
			rec.Release()
			if err != nil {
				return err
			}
			for _, rj := range rejects {
				if err := r.reject(rj); err != nil {
					if out != nil {
						out.Release()
					}
					return err
				}
			}
			rec = out
			if rec == nil {
				return nil
			}
		}
		rows = rec.NumRows()
		if rows == 0 {
			rec.Release()
			return nil
		}
		payload, err = arrowipc.Encode(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	select {
	case r.a.sinkCh <- sinkItem{ipc: payload, rows: rows}:
	case <-r.a.ctx.Done():
	}
	return nil
}

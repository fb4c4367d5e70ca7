package sdk

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk/arrowipc"
)

// recvLoop forwards a stream's messages to a channel until the stream ends;
// the final error (io.EOF on a clean end) is sent on errc.
func recvLoop[T any](ctx context.Context, recv func() (T, error)) (<-chan T, <-chan error) {
	out := make(chan T, 16)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			m, err := recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case out <- m:
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
		}
	}()
	return out, errc
}

// ---------------------------------------------------------------------------
// Enumerator

type periodic struct {
	next   time.Time
	period time.Duration
	fn     func(ctx context.Context) error
}

type enumContext struct {
	send        func(*adfv1.EnumeratorEvent) error
	readers     map[int]bool
	parallelism int
	periodic    []*periodic
}

func (c *enumContext) AssignSplit(split Split, readerID int) error {
	return c.AssignSplits(map[int][]Split{readerID: {split}})
}

func (c *enumContext) AssignSplits(assignment map[int][]Split) error {
	ids := make([]int, 0, len(assignment))
	for id := range assignment {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		ps, err := encodeSplits(assignment[id])
		if err != nil {
			return err
		}
		if err := c.send(&adfv1.EnumeratorEvent{Event: &adfv1.EnumeratorEvent_AssignSplits_{
			AssignSplits: &adfv1.EnumeratorEvent_AssignSplits{ReaderId: int32(id), Splits: ps}}}); err != nil {
			return err
		}
	}
	return nil
}

// AnnounceSplits implements SplitAnnouncer: the splits' ids and sizes go to
// the host, not their data (the host only shows them).
func (c *enumContext) AnnounceSplits(splits []Split) error {
	ps := make([]*adfv1.Split, 0, len(splits))
	for _, s := range splits {
		p := &adfv1.Split{Id: s.SplitID()}
		if sz, ok := s.(SizedSplit); ok {
			p.SizeBytes = max(sz.SizeBytes(), 0)
		}
		ps = append(ps, p)
	}
	return c.send(&adfv1.EnumeratorEvent{Event: &adfv1.EnumeratorEvent_SplitsDiscovered_{
		SplitsDiscovered: &adfv1.EnumeratorEvent_SplitsDiscovered{Splits: ps}}})
}

func (c *enumContext) SignalNoMoreSplits(readerID int) error {
	return c.send(&adfv1.EnumeratorEvent{Event: &adfv1.EnumeratorEvent_NoMoreSplits_{
		NoMoreSplits: &adfv1.EnumeratorEvent_NoMoreSplits{ReaderId: int32(readerID)}}})
}

func (c *enumContext) RegisteredReaders() []int {
	out := make([]int, 0, len(c.readers))
	for id := range c.readers {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}

func (c *enumContext) Parallelism() int { return c.parallelism }

func (c *enumContext) CallPeriodically(period time.Duration, fn func(ctx context.Context) error) {
	c.periodic = append(c.periodic, &periodic{next: time.Now().Add(period), period: period, fn: fn})
}

// Enumerator serves one split enumerator.
func (s *server) Enumerator(stream adfv1.Source_EnumeratorServer) (err error) {
	send := func(ev *adfv1.EnumeratorEvent) error { return stream.Send(ev) }
	defer func() {
		// Errors go to the host as a diagnostic event, which keeps their
		// structure; the stream itself then ends cleanly.
		if err != nil && !streamCancelled(stream.Context(), err) {
			_ = send(&adfv1.EnumeratorEvent{Event: &adfv1.EnumeratorEvent_Error{Error: Diagnostics(err)[0]}})
			err = nil
		}
	}()
	defer recoverInto(&err)
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return &Error{Code: CodeInternal, Summary: "enumerator stream must begin with Start"}
	}
	comp, cfg, err := s.p.config(KindSource, start.Type, start.Config)
	if err != nil {
		return err
	}
	src, err := comp.newSource(cfg)
	if err != nil {
		return err
	}
	ectx := &enumContext{send: send, readers: map[int]bool{}, parallelism: int(start.Parallelism)}
	var enum SplitEnumerator
	if start.HasRestoredState {
		enum, err = src.RestoreEnumerator(ectx, start.RestoredState)
	} else {
		enum, err = src.CreateEnumerator(ectx)
	}
	if err != nil {
		return err
	}
	defer enum.Close()
	if err := enum.Start(ctx); err != nil {
		return err
	}
	if err := send(&adfv1.EnumeratorEvent{Event: &adfv1.EnumeratorEvent_Started_{
		Started: &adfv1.EnumeratorEvent_Started{Bounded: src.Boundedness() == Bounded}}}); err != nil {
		return err
	}
	cmds, errc := recvLoop(ctx, stream.Recv)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Run due periodic calls, then sleep until the next one or a command.
		next := time.Now().Add(time.Hour)
		for _, p := range ectx.periodic {
			if !time.Now().Before(p.next) {
				if err := p.fn(ctx); err != nil {
					return err
				}
				p.next = time.Now().Add(p.period)
			}
			if p.next.Before(next) {
				next = p.next
			}
		}
		timer.Reset(time.Until(next))
		select {
		case cmd, ok := <-cmds:
			if !ok {
				if e := <-errc; e != io.EOF {
					return e
				}
				return nil
			}
			if err := s.enumCommand(ctx, src, enum, ectx, cmd); err != nil {
				return err
			}
		case <-timer.C:
		}
	}
}

func (s *server) enumCommand(ctx context.Context, src Source, enum SplitEnumerator, ectx *enumContext, cmd *adfv1.EnumeratorCommand) error {
	switch c := cmd.Command.(type) {
	case *adfv1.EnumeratorCommand_AddReader_:
		ectx.readers[int(c.AddReader.ReaderId)] = true
		return enum.AddReader(ctx, int(c.AddReader.ReaderId))
	case *adfv1.EnumeratorCommand_SplitRequest_:
		return enum.HandleSplitRequest(ctx, int(c.SplitRequest.ReaderId), c.SplitRequest.Hostname)
	case *adfv1.EnumeratorCommand_AddSplitsBack_:
		splits, err := decodeSplits(src, c.AddSplitsBack.Splits)
		if err != nil {
			return err
		}
		return enum.AddSplitsBack(ctx, splits, int(c.AddSplitsBack.ReaderId))
	case *adfv1.EnumeratorCommand_SnapshotState_:
		st, err := enum.SnapshotState(ctx, c.SnapshotState.CheckpointId)
		if err != nil {
			return err
		}
		return ectx.send(&adfv1.EnumeratorEvent{Event: &adfv1.EnumeratorEvent_State_{
			State: &adfv1.EnumeratorEvent_State{CheckpointId: c.SnapshotState.CheckpointId, State: st}}})
	case *adfv1.EnumeratorCommand_CheckpointComplete_:
		if err := enum.NotifyCheckpointComplete(ctx, c.CheckpointComplete.CheckpointId); err != nil {
			return err
		}
		return ectx.send(&adfv1.EnumeratorEvent{Event: &adfv1.EnumeratorEvent_Ack_{
			Ack: &adfv1.EnumeratorEvent_Ack{CheckpointId: c.CheckpointComplete.CheckpointId}}})
	}
	return &Error{Code: CodeInternal, Summary: fmt.Sprintf("unexpected enumerator command %T", cmd.Command)}
}

// ---------------------------------------------------------------------------
// Reader

type readerContext struct {
	id      int
	send    func(*adfv1.ReaderEvent) error
	columns []string
}

func (c *readerContext) ReaderID() int { return c.id }

func (c *readerContext) projectedColumns() []string { return c.columns }

func (c *readerContext) SendSplitRequest() error {
	host, _ := os.Hostname()
	return c.send(&adfv1.ReaderEvent{Event: &adfv1.ReaderEvent_SplitRequest_{
		SplitRequest: &adfv1.ReaderEvent_SplitRequest{Hostname: host}}})
}

type readerOutput struct {
	send    func(*adfv1.ReaderEvent) error
	credits *int
	// bytes is what AddSourceBytes counted since the last event that
	// carried it (a batch, a split-finished report or a state).
	bytes int64
	// emitted is set by every batch; the lag poll clears it.
	emitted bool
}

// AddSourceBytes implements SourceByteCounter.
func (o *readerOutput) AddSourceBytes(n int64) { o.bytes += n }

// takeBytes returns the bytes counted since the last report and resets them.
func (o *readerOutput) takeBytes() int64 {
	n := o.bytes
	o.bytes = 0
	return n
}

func (o *readerOutput) Emit(splitID string, rec arrow.RecordBatch) error {
	if rec == nil || rec.NumRows() == 0 {
		return nil
	}
	b, err := arrowipc.Encode(rec)
	if err != nil {
		return err
	}
	*o.credits--
	o.emitted = true
	return o.send(&adfv1.ReaderEvent{Event: &adfv1.ReaderEvent_Batch_{
		Batch: &adfv1.ReaderEvent_Batch{ArrowIpc: b, SplitId: splitID, Rows: rec.NumRows(), SourceBytes: o.takeBytes()}}})
}

func (o *readerOutput) Reject(r Rejected) error {
	return o.send(&adfv1.ReaderEvent{Event: &adfv1.ReaderEvent_Rejected_{
		Rejected: &adfv1.ReaderEvent_Rejected{Records: []*adfv1.RejectedRecord{rejectedToProto(r)}}}})
}

func rejectedToProto(r Rejected) *adfv1.RejectedRecord {
	return &adfv1.RejectedRecord{SplitId: r.SplitID, Position: r.Position, Raw: r.Raw, Reason: r.Reason}
}

func (o *readerOutput) SplitFinished(splitID string) error {
	return o.send(&adfv1.ReaderEvent{Event: &adfv1.ReaderEvent_SplitsFinished_{
		SplitsFinished: &adfv1.ReaderEvent_SplitsFinished{SplitIds: []string{splitID}, SourceBytes: o.takeBytes()}}})
}

// idlePoll is how long the reader loop waits before polling again after
// NothingAvailable, unless a command arrives first.
const idlePoll = 20 * time.Millisecond

// Reader serves one source reader. One goroutine runs the reader: commands
// and polls interleave, so a snapshot always sits between two batches.
func (s *server) Reader(stream adfv1.Source_ReaderServer) (err error) {
	var mu sync.Mutex
	send := func(ev *adfv1.ReaderEvent) error {
		mu.Lock()
		defer mu.Unlock()
		return stream.Send(ev)
	}
	defer func() {
		if err != nil && !streamCancelled(stream.Context(), err) {
			_ = send(&adfv1.ReaderEvent{Event: &adfv1.ReaderEvent_Error{Error: Diagnostics(err)[0]}})
			err = nil
		}
	}()
	defer recoverInto(&err)
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return &Error{Code: CodeInternal, Summary: "reader stream must begin with Open"}
	}
	comp, cfg, err := s.p.config(KindSource, open.Type, open.Config)
	if err != nil {
		return err
	}
	src, err := comp.newSource(cfg)
	if err != nil {
		return err
	}
	reader, err := src.CreateReader(&readerContext{id: int(open.ReaderId), send: send, columns: open.Columns})
	if err != nil {
		return err
	}
	defer reader.Close()
	if len(open.RestoredSplits) > 0 {
		splits, err := decodeSplits(src, open.RestoredSplits)
		if err != nil {
			return err
		}
		if err := reader.AddSplits(splits); err != nil {
			return err
		}
	}
	if err := reader.Start(ctx); err != nil {
		return err
	}
	if err := send(&adfv1.ReaderEvent{Event: &adfv1.ReaderEvent_Opened_{Opened: &adfv1.ReaderEvent_Opened{}}}); err != nil {
		return err
	}
	credits := int(open.InitialCredits)
	out := &readerOutput{send: send, credits: &credits}
	log := s.log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	lag := newLagPoller(reader, send, out, log.With("reader", open.ReaderId))
	cmds, errc := recvLoop(ctx, stream.Recv)
	finished := false
	idle := false
	handle := func(cmd *adfv1.ReaderCommand) (closed bool, err error) {
		switch c := cmd.Command.(type) {
		case *adfv1.ReaderCommand_AddSplits_:
			splits, err := decodeSplits(src, c.AddSplits.Splits)
			if err != nil {
				return false, err
			}
			idle = false
			lag.splitsAdded()
			return false, reader.AddSplits(splits)
		case *adfv1.ReaderCommand_NoMoreSplits_:
			idle = false
			reader.NotifyNoMoreSplits()
		case *adfv1.ReaderCommand_Snapshot_:
			splits, err := reader.SnapshotState(ctx, c.Snapshot.CheckpointId)
			if err != nil {
				return false, err
			}
			ps, err := encodeSplits(splits)
			if err != nil {
				return false, err
			}
			return false, send(&adfv1.ReaderEvent{Event: &adfv1.ReaderEvent_State_{
				State: &adfv1.ReaderEvent_State{CheckpointId: c.Snapshot.CheckpointId, Splits: ps, SourceBytes: out.takeBytes()}}})
		case *adfv1.ReaderCommand_CheckpointComplete_:
			return false, reader.NotifyCheckpointComplete(ctx, c.CheckpointComplete.CheckpointId)
		case *adfv1.ReaderCommand_Credit_:
			credits += int(c.Credit.Batches)
		case *adfv1.ReaderCommand_Close_:
			return true, nil
		default:
			return false, &Error{Code: CodeInternal, Summary: fmt.Sprintf("unexpected reader command %T", cmd.Command)}
		}
		return false, nil
	}
	streamEnd := func() error {
		if e := <-errc; e != io.EOF {
			return e
		}
		return nil
	}
	timer := time.NewTimer(idlePoll)
	defer timer.Stop()
	for {
		// Handle every pending command before the next poll.
		for drained := false; !drained; {
			select {
			case cmd, ok := <-cmds:
				if !ok {
					return streamEnd()
				}
				closed, err := handle(cmd)
				if err != nil || closed {
					return err
				}
			default:
				drained = true
			}
		}
		if finished || credits <= 0 || idle {
			// Wait for a command (credit, splits, snapshot); when idle,
			// poll again after a short pause. A reader held back by the
			// host (no credit) still reports its lag, which grows then.
			timer.Reset(idlePoll)
			var tick, lagDue <-chan time.Time
			if idle && !finished && credits > 0 {
				tick = timer.C
			}
			if !finished && credits <= 0 {
				lagDue = lag.due()
			}
			select {
			case cmd, ok := <-cmds:
				if !ok {
					return streamEnd()
				}
				closed, err := handle(cmd)
				if err != nil || closed {
					return err
				}
			case <-tick:
				idle = false
			case <-lagDue:
				if err := lag.report(ctx); err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if err := lag.whileBusy(ctx); err != nil {
			return err
		}
		status, err := reader.PollNext(ctx, out)
		if err != nil {
			return err
		}
		switch status {
		case NothingAvailable:
			if err := lag.caughtUp(ctx); err != nil {
				return err
			}
			idle = true
		case EndOfInput:
			finished = true
			if err := send(&adfv1.ReaderEvent{Event: &adfv1.ReaderEvent_Finished_{Finished: &adfv1.ReaderEvent_Finished{}}}); err != nil {
				return err
			}
		}
	}
}

// lagPoller asks a LagReporter reader for its lag and sends it to the host:
// when it gets new splits, every LagInterval while it emits or waits for
// credit, and once when it has caught up. An idle reader that emitted nothing since its last
// report is not asked again: nothing changed that it read.
type lagPoller struct {
	r    LagReporter // nil: the reader reports no lag
	send func(*adfv1.ReaderEvent) error
	out  *readerOutput
	log  hclog.Logger
	next time.Time
	// fresh: splits were added since the last report.
	fresh bool
	// failing: the last Lag call failed (logged once per streak).
	failing bool
	timer   *time.Timer
}

func newLagPoller(reader SourceReader, send func(*adfv1.ReaderEvent) error, out *readerOutput, log hclog.Logger) *lagPoller {
	p := &lagPoller{send: send, out: out, log: log, next: time.Now().Add(LagInterval)}
	p.r, _ = reader.(LagReporter)
	return p
}

func (p *lagPoller) splitsAdded() { p.fresh = true }

// active says whether something changed since the last report.
func (p *lagPoller) active() bool { return p.out.emitted || p.fresh }

// whileBusy reports before the first read of new splits (their lag before
// any of it is read), then each interval while the reader emits.
func (p *lagPoller) whileBusy(ctx context.Context) error {
	if p.r == nil || !p.active() || (!p.fresh && time.Now().Before(p.next)) {
		return nil
	}
	return p.report(ctx)
}

// caughtUp reports once after the reader found nothing more to read.
func (p *lagPoller) caughtUp(ctx context.Context) error {
	if p.r == nil || !p.active() {
		return nil
	}
	return p.report(ctx)
}

// due is a channel that fires when the next report is due (nil: never).
func (p *lagPoller) due() <-chan time.Time {
	if p.r == nil {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(time.Until(p.next))
	} else {
		p.timer.Reset(time.Until(p.next))
	}
	return p.timer.C
}

// report asks the reader for its lag and sends it. Only a failed send is an
// error: the lag is for display, so a failed Lag call skips the report.
func (p *lagPoller) report(ctx context.Context) error {
	p.next = time.Now().Add(LagInterval)
	p.out.emitted, p.fresh = false, false
	lags, err := p.r.Lag(ctx)
	if err != nil {
		if !p.failing {
			p.log.Warn("the source reader could not tell its lag; retrying every interval", "interval", LagInterval, "error", err)
		}
		p.failing = true
		return nil
	}
	if p.failing {
		p.log.Info("the source reader tells its lag again")
		p.failing = false
	}
	if len(lags) == 0 {
		return nil
	}
	ids := make([]string, 0, len(lags))
	for id := range lags {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ev := &adfv1.ReaderEvent_Lag{Splits: make([]*adfv1.SplitLag, 0, len(ids))}
	for _, id := range ids {
		ev.Splits = append(ev.Splits, &adfv1.SplitLag{SplitId: id, Records: lags[id]})
	}
	return p.send(&adfv1.ReaderEvent{Event: &adfv1.ReaderEvent_Lag_{Lag: ev}})
}

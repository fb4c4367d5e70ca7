package rafkaplugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// Phases of a split in a reader.
const (
	// phaseRecover: acknowledge what the restored checkpoint covers, then
	// re-read the consumer's own pending entries after Position.
	phaseRecover = iota
	// phaseClaimed: re-read entries claimed from other consumers earlier
	// and not covered by the checkpoint.
	phaseClaimed
	// phaseLive: new entries (">"), plus XAUTOCLAIM of dead consumers'
	// entries now and then.
	phaseLive
	// phaseDone: read to its end (available_now); nothing more is read.
	// It stays in reader.done until its entries are acknowledged.
	phaseDone
)

// rsplit is a split being read.
type rsplit struct {
	sp    *Split
	key   string
	phase int
	acked bool // covered entries of a restored split acknowledged
	// restoredPos and restoredClaimed are the split's state as it was
	// added: what the checkpoint it came from covers. Acknowledging a
	// restored split never goes beyond them, even once Position moved on.
	restoredPos     string
	restoredClaimed []string
	readPos         string   // newest own id read (queued or emitted)
	readID          rafka.ID // readPos parsed (when readPos is set)
	hist            string   // next id of the history read
	claimCursor     string
	nextClaim       time.Time
	// doneAt is, for a split finished by this reader, the first checkpoint
	// whose snapshot listed it as finished (0 before that snapshot): the
	// split may leave the state once that checkpoint has completed, since
	// its completion acknowledges everything the split emitted.
	doneAt int64
	// reported: SplitFinished was sent for this finished split.
	reported bool
}

// releasable says whether a finished split may leave the reader's state
// once checkpoint checkpointID has completed: it was reported finished, its
// restored coverage is acknowledged, and what it emitted itself is covered
// by a completed checkpoint (a split added finished emitted nothing).
func (s *rsplit) releasable(checkpointID int64) bool {
	if !s.acked || !s.reported {
		return false
	}
	if s.restoredDone() {
		return true
	}
	return s.doneAt > 0 && s.doneAt <= checkpointID
}

// restoredDone: the split was added already finished (restored from a
// checkpoint, or handed back by the enumerator).
func (s *rsplit) restoredDone() bool { return s.phase == phaseDone && s.doneAt < 0 }

// emitItem is a batch waiting to be emitted, with the position change and
// the ids to acknowledge once a checkpoint covers it.
type emitItem struct {
	s       *rsplit
	rec     arrow.RecordBatch
	newPos  string     // Position after this item ("" = unchanged)
	ids     []rafka.ID // ids to acknowledge (own consumer)
	claimed []string   // ids claimed from others, emitted here
	finish  bool       // report the split finished after this item
}

// ackBatch is what one checkpoint acknowledges.
type ackBatch struct {
	checkpoint int64
	ids        map[string][]rafka.ID // stream key -> ids
	claimed    map[*rsplit][]string
}

// reader reads its partitions with XREADGROUP (RafkaSourceReader).
type reader struct {
	cfg *SourceConfig
	ctx sdk.SourceReaderContext
	rdb *redis.Client
	// rd runs XAUTOCLAIM without go-redis's own retries: see
	// newReadClient and resync. rc runs the reads of new entries, hc the
	// history reads, ac the XACKs of completed checkpoints (rawConn: the
	// reader reads their replies itself; never retried blindly either).
	rd         *redis.Client
	rc, hc, ac *rawConn
	dec        *decoder
	consumer   string
	claimer    string

	splits []*rsplit
	// done are the finished splits whose entries a completed checkpoint
	// has not acknowledged yet; they stay in the snapshots (Split.Finished)
	// until one has.
	done   []*rsplit
	queue  []*emitItem
	cur    *ackBatch
	acks   []*ackBatch
	noMore bool
	asked  bool
	// rep is the reply of the last XREADGROUP (reused for every read),
	// claimRep the last XAUTOCLAIM's.
	rep, claimRep xreply
	// ahead: the splits of the XREADGROUP ... > read ahead on rc, whose
	// reply the next live read takes (nil: none in flight). See live.
	ahead []*rsplit

	failingSince time.Time
	backoff      time.Duration
}

func newReader(s *source, ctx sdk.SourceReaderContext) (*reader, error) {
	rdb, err := newClient(s.cfg.URL)
	if err != nil {
		return nil, err
	}
	rd, err := newReadClient(s.cfg.URL)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	return &reader{cfg: s.cfg, ctx: ctx, rdb: rdb, rd: rd, rc: newRawConn(s.cfg.URL), hc: newRawConn(s.cfg.URL), ac: newRawConn(s.cfg.URL),
		consumer: s.cfg.Consumer, claimer: s.cfg.Consumer + ".claimed",
		cur: newAckBatch()}, nil
}

func newAckBatch() *ackBatch {
	return &ackBatch{ids: map[string][]rafka.ID{}, claimed: map[*rsplit][]string{}}
}

// Start implements sdk.SourceReader.
func (r *reader) Start(context.Context) error { return r.request() }

func (r *reader) request() error {
	if r.asked || r.noMore {
		return nil
	}
	r.asked = true
	return r.ctx.SendSplitRequest()
}

// AddSplits implements sdk.SourceReader.
func (r *reader) AddSplits(splits []sdk.Split) error {
	for _, s := range splits {
		sp := s.(*Split)
		if r.dec == nil {
			r.dec = newDecoder(r.cfg.Format, sp.Schema, r.cfg.Headers, memory.NewGoAllocator())
		}
		hist := sp.Position
		if hist == "" {
			hist = "0"
		}
		// An unparseable position (never written by this plugin) leaves
		// readID at 0-0: no entry is taken for one read already.
		readID, _ := rafka.ParseID(sp.Position)
		rs := &rsplit{sp: sp, key: sp.key(), hist: hist, readPos: sp.Position, readID: readID, claimCursor: "0-0",
			restoredPos: sp.Position, restoredClaimed: append([]string(nil), sp.Claimed...),
			acked: sp.Position == "" && len(sp.Claimed) == 0}
		if sp.Finished {
			// Read to its end by an earlier attempt: not read again (that
			// would deliver nothing new, or, after a restore from before
			// a later finish, re-emit what the checkpoint covers).
			// PollNext reports it finished; the next checkpoint completion
			// acknowledges what its position covers.
			rs.phase, rs.doneAt = phaseDone, -1
			r.done = append(r.done, rs)
			continue
		}
		r.splits = append(r.splits, rs)
	}
	return nil
}

// NotifyNoMoreSplits implements sdk.SourceReader.
func (r *reader) NotifyNoMoreSplits() { r.noMore = true }

// PollNext implements sdk.SourceReader.
func (r *reader) PollNext(ctx context.Context, out sdk.ReaderOutput) (sdk.InputStatus, error) {
	if err := r.reportDone(out); err != nil {
		return 0, err
	}
	if emitted, err := r.emit(out); err != nil || emitted {
		return sdk.MoreAvailable, err
	}
	if len(r.splits) == 0 {
		if r.noMore {
			return sdk.EndOfInput, nil
		}
		return sdk.NothingAvailable, nil
	}
	err := r.step(ctx, out)
	if err != nil {
		// Whatever failed, a read may have run on the server with its
		// reply lost: its entries are pending under this reader's names.
		// Re-read them before anything new.
		r.resync()
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if classified := redisError(fmt.Sprintf("rafka reader %d: read topic %s, group %s", r.ctx.ReaderID(), r.cfg.Topic, r.cfg.Group), r.cfg.URL, err); !sdk.AsErrors(classified)[0].Retryable() {
			return 0, classified
		}
		// Redis unreachable or restarting: retry with backoff (go-redis
		// reconnects), fail the attempt only after retry_limit.
		if r.failingSince.IsZero() {
			r.failingSince, r.backoff = time.Now(), 50*time.Millisecond
			logger().Warn("Redis call failed; retrying, own pending entries are re-read before new ones", "reader", r.ctx.ReaderID(),
				"topic", r.cfg.Topic, "group", r.cfg.Group, "retry_limit", r.cfg.RetryLimit.D().String(), "error", err)
		}
		if time.Since(r.failingSince) > r.cfg.RetryLimit.D() {
			return 0, &sdk.Error{Code: sdk.CodeUnavailable, Transient: true, Err: err,
				Summary: fmt.Sprintf("rafka reader %d: Redis calls on topic %s, group %s kept failing for %s (retry_limit): %v",
					r.ctx.ReaderID(), r.cfg.Topic, r.cfg.Group, r.cfg.RetryLimit.D(), err),
				Detail: "nothing is lost: unacknowledged entries stay pending and the flow restarts from its last checkpoint. Check that Redis is reachable, or raise retry_limit to ride out longer outages"}
		}
		if redis.HasErrorPrefix(err, "NOGROUP") {
			r.ensureGroups(ctx)
		}
		select {
		case <-time.After(r.backoff):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		r.backoff = min(2*r.backoff, time.Second)
		return sdk.NothingAvailable, nil
	}
	r.failingSince = time.Time{}
	if emitted, err := r.emit(out); err != nil || emitted {
		return sdk.MoreAvailable, err
	}
	if len(r.splits) == 0 && r.noMore {
		return sdk.EndOfInput, nil
	}
	if r.cfg.Mode == ModeAvailableNow {
		return sdk.MoreAvailable, nil
	}
	return sdk.NothingAvailable, nil
}

// reportDone reports the splits added finished (see AddSplits); those the
// restored checkpoint's completion acknowledged already leave the state.
func (r *reader) reportDone(out sdk.ReaderOutput) error {
	for _, s := range r.done {
		if !s.reported {
			if err := out.SplitFinished(s.sp.SplitID()); err != nil {
				return err
			}
			s.reported = true
		}
	}
	kept := r.done[:0]
	for _, s := range r.done {
		if !s.restoredDone() || !s.acked {
			kept = append(kept, s)
		}
	}
	clear(r.done[len(kept):])
	r.done = kept
	return nil
}

// resync makes every split being read re-read its own pending entries
// after the newest id it has read (and the claimed entries pending under
// the claimer name that it has not emitted) before it reads new ones.
// Called after any failed Redis call: an XREADGROUP ... > or XAUTOCLAIM
// that Redis ran but whose reply was lost (connection dropped, Redis
// restarted or failed over after running it) left its entries pending
// under this reader's consumer names, where a read of new entries never
// finds them. The history read is idempotent, so a resync for a call that
// never reached Redis costs one round trip per split.
func (r *reader) resync() {
	if r.ahead != nil {
		// The read ahead may have failed, or may not: its reply is
		// dropped with the connection, and its entries are re-read
		// from the pending list like those of any lost reply.
		_ = r.rc.Close()
		r.ahead = nil
	}
	for _, s := range r.splits {
		if s.phase == phaseDone {
			continue
		}
		s.phase, s.hist = phaseRecover, s.readPos
		if s.hist == "" {
			s.hist = "0"
		}
	}
}

// ensureGroups recreates the group on this reader's partitions (after the
// group or the stream vanished, e.g. a Redis restart without persistence).
func (r *reader) ensureGroups(ctx context.Context) {
	for _, s := range r.splits {
		_ = rafka.EnsureGroup(ctx, r.rdb, s.sp.Topic, s.sp.Partition, r.cfg.Group, "0")
	}
}

// emit emits the first queued batch (reporting finished splits on the way)
// and applies its position change. It reports whether a batch went out.
func (r *reader) emit(out sdk.ReaderOutput) (bool, error) {
	for len(r.queue) > 0 {
		it := r.queue[0]
		r.queue = r.queue[1:]
		if it.rec != nil {
			err := out.Emit(it.s.sp.SplitID(), it.rec)
			it.rec.Release()
			if err != nil {
				return false, err
			}
		}
		if it.newPos != "" {
			it.s.sp.Position = it.newPos
		}
		if len(it.ids) > 0 {
			r.cur.ids[it.s.key] = append(r.cur.ids[it.s.key], it.ids...)
		}
		if len(it.claimed) > 0 {
			it.s.sp.Claimed = append(it.s.sp.Claimed, it.claimed...)
			r.cur.claimed[it.s] = append(r.cur.claimed[it.s], it.claimed...)
			for _, c := range it.claimed {
				// Ids from a reply, parsed there already.
				id, _ := rafka.ParseID(c)
				r.cur.ids[it.s.key] = append(r.cur.ids[it.s.key], id)
			}
		}
		if it.finish {
			r.remove(it.s)
			// Finished, but its last entries are acknowledged only once
			// a checkpoint after this point completes: until then the
			// split stays in the snapshots, so that a restore of such a
			// checkpoint still knows what to acknowledge.
			it.s.phase, it.s.sp.Finished, it.s.reported = phaseDone, true, true
			r.done = append(r.done, it.s)
			if err := out.SplitFinished(it.s.sp.SplitID()); err != nil {
				return false, err
			}
		}
		if it.rec != nil {
			return true, nil
		}
	}
	return false, nil
}

func (r *reader) remove(s *rsplit) {
	for i, x := range r.splits {
		if x == s {
			r.splits = append(r.splits[:i], r.splits[i+1:]...)
			return
		}
	}
}

// step does one round of Redis work and queues what it read.
func (r *reader) step(ctx context.Context, out sdk.ReaderOutput) error {
	for _, s := range r.splits {
		switch s.phase {
		case phaseRecover:
			return r.recover(ctx, s, out)
		case phaseClaimed:
			return r.claimedHistory(ctx, s, out)
		}
	}
	now := time.Now()
	for _, s := range r.splits {
		if !now.Before(s.nextClaim) {
			return r.autoclaim(ctx, s, out)
		}
	}
	return r.live(ctx, out)
}

// recover acknowledges the entries the restored checkpoint covers (see
// ackRestored; usually NotifyCheckpointComplete of the restored checkpoint
// did already), then re-reads the consumer's own pending entries after
// Position, in order.
func (r *reader) recover(ctx context.Context, s *rsplit, out sdk.ReaderOutput) error {
	if err := r.ackRestored(ctx, s); err != nil {
		return err
	}
	if err := r.readHistory(ctx, r.consumer, []string{s.key, s.hist}); err != nil {
		return err
	}
	m := r.rep.stream(s.key)
	if len(m) == 0 {
		s.phase, s.hist = phaseClaimed, "0"
		return nil
	}
	s.hist = string(r.rep.rawID(&m[len(m)-1]))
	return r.queueBatch(s, &r.rep, m, false, out)
}

// ackRestored acknowledges what the state a split was added with covers:
// the consumer's own pending entries up to that position, and the claimed
// entries it lists. Those were emitted before the checkpoint the split comes
// from, which is durable (the host restored it), but the previous attempt
// may have died before its XACK. Entries pending under other consumer names
// are theirs, and entries after the position are not covered: both stay.
// It does the work once per split; repeating it after a failure is harmless
// (XACK of an acknowledged entry does nothing).
func (r *reader) ackRestored(ctx context.Context, s *rsplit) error {
	if s.acked {
		return nil
	}
	if s.restoredPos != "" {
		start := "-"
		for {
			pend, err := r.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.key, Group: r.cfg.Group, Start: start, End: s.restoredPos,
				Count: 1000, Consumer: r.consumer}).Result()
			if err != nil {
				return fmt.Errorf("XPENDING %s up to %s: %w", s.key, s.restoredPos, err)
			}
			if len(pend) == 0 {
				break
			}
			ids := make([]string, len(pend))
			for i, p := range pend {
				ids[i] = p.ID
			}
			if err := r.rdb.XAck(ctx, s.key, r.cfg.Group, ids...).Err(); err != nil {
				return fmt.Errorf("XACK %s up to %s: %w", s.key, s.restoredPos, err)
			}
			start = "(" + ids[len(ids)-1]
		}
	}
	if len(s.restoredClaimed) > 0 {
		if err := r.rdb.XAck(ctx, s.key, r.cfg.Group, s.restoredClaimed...).Err(); err != nil {
			return fmt.Errorf("XACK %s of %d claimed entries: %w", s.key, len(s.restoredClaimed), err)
		}
		s.sp.Claimed = without(s.sp.Claimed, s.restoredClaimed)
		s.restoredClaimed = nil
	}
	s.acked = true
	return nil
}

// without returns ids minus drop, in order, reusing ids' array.
func without(ids, drop []string) []string {
	d := make(map[string]bool, len(drop))
	for _, id := range drop {
		d[id] = true
	}
	kept := ids[:0]
	for _, id := range ids {
		if !d[id] {
			kept = append(kept, id)
		}
	}
	return kept
}

// claimedHistory re-reads entries this flow claimed from other consumers
// earlier (pending under the claimer name) that no checkpoint covers.
func (r *reader) claimedHistory(ctx context.Context, s *rsplit, out sdk.ReaderOutput) error {
	if err := r.readHistory(ctx, r.claimer, []string{s.key, s.hist}); err != nil {
		return err
	}
	m := r.rep.stream(s.key)
	if len(m) == 0 {
		s.phase = phaseLive
		return nil
	}
	s.hist = string(r.rep.rawID(&m[len(m)-1]))
	// After a resync the claimer's pending list also holds the claimed
	// entries this reader emitted (or queued) and no completed checkpoint
	// acknowledged yet: they are not read again.
	known := r.claimedKnown(s)
	keep := m[:0]
	for _, e := range m {
		if !known[string(r.rep.rawID(&e))] {
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return r.queueBatch(s, &r.rep, keep, true, out)
}

// claimedKnown is the set of claimed entries of s emitted or queued and not
// acknowledged yet.
func (r *reader) claimedKnown(s *rsplit) map[string]bool {
	known := map[string]bool{}
	for _, id := range s.sp.Claimed {
		known[id] = true
	}
	for _, it := range r.queue {
		if it.s == s {
			for _, id := range it.claimed {
				known[id] = true
			}
		}
	}
	return known
}

// autoclaim takes over entries other consumers have left pending longer
// than claim_idle (a dead consumer) with XAUTOCLAIM, and emits them.
func (r *reader) autoclaim(ctx context.Context, s *rsplit, out sdk.ReaderOutput) error {
	msgs, next, err := r.rd.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: s.key, Group: r.cfg.Group, MinIdle: r.cfg.ClaimIdle.D(),
		Start: s.claimCursor, Count: int64(r.cfg.BatchSize), Consumer: r.claimer}).Result()
	if err != nil {
		return fmt.Errorf("XAUTOCLAIM %s: %w", s.key, err)
	}
	if next == "0-0" || next == "" {
		s.claimCursor = "0-0"
		s.nextClaim = time.Now().Add(max(r.cfg.ClaimIdle.D()/2, time.Second))
	} else {
		s.claimCursor = next
	}
	if len(msgs) == 0 {
		return nil
	}
	// Entries this reader claimed, emitted and not yet acknowledged may
	// idle past claim_idle (a checkpoint slower than claim_idle): they
	// are not emitted again.
	if len(s.sp.Claimed) > 0 || len(r.queue) > 0 {
		known := r.claimedKnown(s)
		keep := msgs[:0:0]
		for _, m := range msgs {
			if !known[m.ID] {
				keep = append(keep, m)
			}
		}
		if msgs = keep; len(msgs) == 0 {
			return nil
		}
	}
	if err := replyOf(s.key, msgs, &r.claimRep); err != nil {
		return err
	}
	return r.queueBatch(s, &r.claimRep, r.claimRep.entries, true, out)
}

// live reads new entries of every live split in one XREADGROUP.
//
// In available_now mode it reads ahead: as soon as a reply is in, and
// before it is decoded and emitted, the next XREADGROUP ... > of the splits
// that go on is sent on the same connection, so Redis serves it while this
// one is decoded; the next live call takes its reply. Entries read ahead
// are in the consumer's pending list but not emitted: no snapshot covers
// them, so a restore re-reads them (history read after the position), and
// after a failed call resync drops the read ahead with its connection and
// re-reads them the same way.
func (r *reader) live(ctx context.Context, out sdk.ReaderOutput) error {
	block := r.cfg.Block.D()
	if r.cfg.Mode == ModeAvailableNow {
		block = -1
	}
	splits := r.ahead
	r.ahead = nil
	if splits == nil {
		splits = r.splits
		if err := r.rc.sendXReadGroup(ctx, r.cfg.Group, r.consumer, r.cfg.BatchSize, block, r.streams(splits)); err != nil {
			return fmt.Errorf("XREADGROUP %s: %w", splits[0].key, err)
		}
	}
	splits = append([]*rsplit(nil), splits...)
	if err := r.rc.recvXRead(ctx, block, r.cfg.Headers, &r.rep); err != nil {
		return fmt.Errorf("XREADGROUP %s: %w", splits[0].key, err)
	}
	// available_now: a split is finished when its position reached the
	// last id at start, or when nothing new is left for the group.
	finished := make([]bool, len(splits))
	if r.cfg.Mode == ModeAvailableNow {
		var next []*rsplit
		for i, s := range splits {
			msgs := r.rep.stream(s.key)
			last := s.sp.Position
			if len(msgs) > 0 {
				last = string(r.rep.rawID(&msgs[len(msgs)-1]))
			}
			if finished[i] = len(msgs) == 0 || (last != "" && rafka.CompareIDs(last, s.sp.End) >= 0); !finished[i] {
				next = append(next, s)
			}
		}
		// Splits that went live after this read was sent join the next.
		for _, s := range r.splits {
			if s.phase == phaseLive && !slices.Contains(splits, s) {
				next = append(next, s)
			}
		}
		if len(next) > 0 {
			// A failure here closed the connection; the next read
			// connects again, and this reply is handled regardless.
			if err := r.rc.sendXReadGroup(ctx, r.cfg.Group, r.consumer, r.cfg.BatchSize, block, r.streams(next)); err == nil {
				r.ahead = next
			}
		}
	}
	for i, s := range splits {
		if msgs := r.rep.stream(s.key); len(msgs) > 0 {
			if err := r.queueBatch(s, &r.rep, msgs, false, out); err != nil {
				return err
			}
		}
		if finished[i] {
			r.queue = append(r.queue, &emitItem{s: s, finish: true})
			s.phase = phaseDone // no more reads
			r.remove(s)
		}
	}
	return nil
}

// streams is the STREAMS arguments of a read of new entries of splits.
func (r *reader) streams(splits []*rsplit) []string {
	streams := make([]string, 0, 2*len(splits))
	for _, s := range splits {
		streams = append(streams, s.key)
	}
	for range splits {
		streams = append(streams, ">")
	}
	return streams
}

// readHistory runs XREADGROUP of pending entries into r.rep.
func (r *reader) readHistory(ctx context.Context, consumer string, streams []string) error {
	if err := r.hc.xreadgroup(ctx, r.cfg.Group, consumer, r.cfg.BatchSize, -1, streams, r.cfg.Headers, &r.rep); err != nil {
		return fmt.Errorf("XREADGROUP %s: %w", streams[0], err)
	}
	return nil
}

// queueBatch decodes the entries ents of reply rep, read from split s, into
// a batch and queues it. Entries at or before the newest id read were read
// already (a Redis that lost recent writes delivers them again): they are
// only acknowledged.
func (r *reader) queueBatch(s *rsplit, rep *xreply, ents []xentry, claimed bool, out sdk.ReaderOutput) error {
	it := &emitItem{s: s}
	keep := ents
	if claimed {
		it.claimed = make([]string, len(ents))
		for i := range ents {
			it.claimed[i] = string(rep.rawID(&ents[i]))
		}
	} else {
		it.ids = make([]rafka.ID, len(ents))
		old := 0
		for i := range ents {
			it.ids[i] = ents[i].id
			if s.readPos != "" && ents[i].id.Compare(s.readID) <= 0 {
				old++
			}
		}
		last := &ents[len(ents)-1]
		if s.readPos == "" || last.id.Compare(s.readID) > 0 {
			it.newPos = string(rep.rawID(last))
		}
		if old > 0 {
			keep = make([]xentry, 0, len(ents)-old)
			for _, e := range ents {
				if e.id.Compare(s.readID) > 0 {
					keep = append(keep, e)
				}
			}
		}
		if it.newPos != "" {
			s.readPos, s.readID = it.newPos, last.id
		}
	}
	if len(keep) > 0 {
		rec, err := r.dec.decode(s.sp, rep, keep, out.Reject)
		if err != nil {
			return err
		}
		it.rec = rec
	}
	r.queue = append(r.queue, it)
	return nil
}

// SnapshotState implements sdk.SourceReader: unfinished splits at their
// positions, and the finished ones not yet acknowledged (Split.Finished).
// Entries emitted since the previous snapshot are acknowledged once this
// checkpoint completes.
func (r *reader) SnapshotState(_ context.Context, checkpointID int64) ([]sdk.Split, error) {
	r.cur.checkpoint = checkpointID
	r.acks = append(r.acks, r.cur)
	r.cur = newAckBatch()
	var out []sdk.Split
	seen := map[*rsplit]bool{}
	for _, s := range r.splits {
		seen[s] = true
		out = append(out, s.sp.clone())
	}
	// Splits finished in available_now mode whose finish is still queued
	// are not finished yet as far as the host knows.
	for _, it := range r.queue {
		if it.finish && !seen[it.s] {
			seen[it.s] = true
			out = append(out, it.s.sp.clone())
		}
	}
	for _, s := range r.done {
		if s.doneAt == 0 {
			s.doneAt = checkpointID
		}
		out = append(out, s.sp.clone())
	}
	return out, nil
}

// ackAttempts and ackBackoff bound the XACK retries of one checkpoint
// completion: 0.7s of backoff between attempts (each attempt also retries
// its connection inside go-redis, about a second when Redis refuses
// connections), enough to ride out a dropped connection or a quick
// failover, short enough for the host to restart the attempt soon when
// Redis stays away.
const (
	ackAttempts = 4
	ackBackoff  = 100 * time.Millisecond
)

// NotifyCheckpointComplete implements sdk.SourceReader: XACK everything the
// checkpoint covers, pipelined. Never earlier: until now the entries stay
// pending and a restarted reader gets them again. That covers the ids
// emitted before this checkpoint's (and earlier checkpoints') snapshots, and
// for splits added with restored state what that state covers (after a
// restore the host notifies the restored checkpoint). A failing XACK is
// retried with backoff; if it keeps failing the error is returned
// (unavailable, transient): the host restarts from the checkpoint, and the
// restored reader acknowledges the entries then.
func (r *reader) NotifyCheckpointComplete(ctx context.Context, checkpointID int64) error {
	err := r.ackCompleted(ctx, checkpointID)
	attempts := 1
	for delay := ackBackoff; err != nil && attempts < ackAttempts && ctx.Err() == nil; delay *= 2 {
		select {
		case <-time.After(delay):
			attempts++
			err = r.ackCompleted(ctx, checkpointID)
		case <-ctx.Done():
		}
	}
	if err == nil {
		return nil
	}
	failures := ackFailures.Add(1)
	logger().Error("XACK of a completed checkpoint failed; the flow restarts from the checkpoint", "reader", r.ctx.ReaderID(), "topic", r.cfg.Topic,
		"group", r.cfg.Group, "checkpoint", checkpointID, "attempts", attempts, "failures_total", failures, "error", err)
	return &sdk.Error{Code: sdk.CodeUnavailable, Transient: true, Err: err,
		Summary: fmt.Sprintf("rafka reader %d: XACK of checkpoint %d on topic %s, group %s failed: %v", r.ctx.ReaderID(), checkpointID, r.cfg.Topic, r.cfg.Group, err),
		Detail:  "the entries stay pending and nothing is lost; the flow restarts from the checkpoint and acknowledges them then. Check that Redis is reachable"}
}

// ackCompleted acknowledges what checkpoint checkpointID covers. It changes
// the reader's bookkeeping only for what was acknowledged, so a repeat
// after a failure acknowledges the rest.
func (r *reader) ackCompleted(ctx context.Context, checkpointID int64) error {
	for _, s := range r.splits {
		if err := r.ackRestored(ctx, s); err != nil {
			return err
		}
	}
	for _, s := range r.done {
		if err := r.ackRestored(ctx, s); err != nil {
			return err
		}
	}
	defer r.releaseDone(checkpointID)
	var due, later []*ackBatch
	for _, a := range r.acks {
		if a.checkpoint <= checkpointID {
			due = append(due, a)
		} else {
			later = append(later, a)
		}
	}
	if len(due) == 0 {
		return nil
	}
	var acks []xack
	n := 0
	for _, a := range due {
		for key, ids := range a.ids {
			if len(ids) > 0 {
				acks = append(acks, xack{key: key, ids: ids})
				n += len(ids)
			}
		}
	}
	if len(acks) > 0 {
		// XACK is idempotent: a call that failed on the connection is
		// repeated on a new one, twice at most (as go-redis retries the
		// plugin's other idempotent calls).
		var err error
		for try := 0; try < 3; try++ {
			if err = r.ac.xacks(ctx, r.cfg.Group, acks); err == nil || ctx.Err() != nil || errors.As(err, new(replyError)) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("XACK of %d entries: %w", n, err)
		}
	}
	for _, a := range due {
		for s, ids := range a.claimed {
			s.sp.Claimed = without(s.sp.Claimed, ids)
		}
	}
	r.acks = later
	return nil
}

// ackChunk is the number of ids per XACK.
const ackChunk = 2000

// releaseDone drops the finished splits that checkpoint checkpointID's
// completion leaves nothing to acknowledge for. Called after the XACKs
// succeeded (a deferred call on a failed ackCompleted releases only those
// restored finished splits acknowledged before the failure).
func (r *reader) releaseDone(checkpointID int64) {
	kept := r.done[:0]
	for _, s := range r.done {
		if !s.releasable(checkpointID) || r.ackPending(s) {
			kept = append(kept, s)
		}
	}
	clear(r.done[len(kept):])
	r.done = kept
}

// ackPending says whether an ack batch not yet acknowledged holds entries
// of s (they were emitted before a snapshot that has not completed).
func (r *reader) ackPending(s *rsplit) bool {
	for _, a := range r.acks {
		if len(a.ids[s.key]) > 0 {
			return true
		}
	}
	return len(r.cur.ids[s.key]) > 0
}

// Close implements sdk.SourceReader.
func (r *reader) Close() error {
	for _, it := range r.queue {
		if it.rec != nil {
			it.rec.Release()
		}
	}
	r.queue = nil
	return errors.Join(r.rc.Close(), r.hc.Close(), r.ac.Close(), r.rd.Close(), r.rdb.Close())
}

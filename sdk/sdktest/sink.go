package sdktest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/activedataflow/adf/sdk"
)

// SinkOptions configure TestSink.
type SinkOptions struct {
	// Config is the component's JSON config.
	Config []byte
	// ReadBack returns the rows the sink's target holds, rendered like Rows
	// renders a batch (column values joined with \x1f, in schema order).
	// It returns the whole target: the two-phase scenarios call it several
	// times, also before anything is published (then it returns no rows
	// rather than failing), and compare what changed.
	ReadBack func(t *testing.T) []string
	// AtLeastOnce sinks may keep rows written after the last flush; the
	// check that such rows are discarded is then skipped, and the
	// two-phase scenarios allow each row not covered by a restored
	// checkpoint to appear once more. It contradicts a declared
	// sdk.DeliveryExactlyOnce.
	AtLeastOnce bool
	// Batch builds test batch number i (default: columns id int64, name
	// string with 100 rows each). Distinct i must give distinct rows: the
	// checks tell batches apart by their rows.
	Batch func(i int) arrow.RecordBatch
	// Reset, when set, empties the target before each two-phase scenario.
	// Without it the scenarios accumulate in the target, each one
	// expecting what was there before plus its own rows; a sink whose runs
	// replace the target (one output file) needs Reset.
	Reset func(t *testing.T)
	// Delivery overrides the delivery the component declares in its
	// manifest (sdk.Capabilities.Delivery), which TestSink reads by
	// default. Leave it empty unless the test drives the sink in a mode
	// whose guarantee differs from the declared one.
	Delivery sdk.Delivery
}

// TestSink checks a sink against the delivery contract (see sdk.Sink).
//
// For every sink:
//   - Flush reports the rows written since the previous flush;
//   - rows written after the last Flush are discarded by Close (unless
//     AtLeastOnce), so a failed attempt leaves nothing behind;
//   - a sink opened with the state of a flush continues after it, and the
//     final flush publishes exactly the flushed rows, once each;
//   - a sink declaring sdk.DeliveryExactlyOnce or sdk.DeliveryIdempotent
//     implements sdk.Committer.
//
// For a sink implementing sdk.Committer, three more scenarios run, each
// with its own run id (flow "sdktest-two-phase"):
//   - restore-older: Flush(1), Commit(1), Flush(2), crash, restore from
//     checkpoint 1: what checkpoint 2 pre-committed must be discarded;
//   - recommit: Commit(N) a second time, and again after a restore, changes
//     nothing;
//   - commit-after-crash: Flush(2), crash before Commit(2), restore from
//     checkpoint 2 and Commit(2, Restored): its rows appear exactly once.
//
// In them, a sink declaring sdk.DeliveryExactlyOnce must show nothing of a
// checkpoint between its Flush and its Commit, and the final output is
// compared row by row: exactly once for exactly_once, distinct rows once
// each for idempotent, each row at least once and at most once more when
// not covered by a restored checkpoint for at_least_once.
func TestSink(t *testing.T, c sdk.Component, opts SinkOptions) {
	t.Helper()
	if opts.ReadBack == nil {
		t.Fatal("sdktest.TestSink needs SinkOptions.ReadBack")
	}
	// ReadBack and Reset take a *testing.T (their signature predates
	// checkSink); bind them here so checkSink can report to any
	// testing.TB, which is how the kit's own tests observe its failures.
	readBack := func() []string { return opts.ReadBack(t) }
	var reset func()
	if opts.Reset != nil {
		reset = func() { opts.Reset(t) }
	}
	checkSink(t, c, opts, readBack, reset)
}

// checkSink is TestSink reporting to tb. readBack and reset are
// opts.ReadBack and opts.Reset bound to a *testing.T (reset may be nil).
func checkSink(tb testing.TB, c sdk.Component, opts SinkOptions, readBack func() []string, reset func()) {
	tb.Helper()
	if opts.Batch == nil {
		opts.Batch = defaultBatch
	}
	delivery := opts.Delivery
	if delivery == "" {
		var err error
		if delivery, err = declaredDelivery(c); err != nil {
			tb.Fatalf("read the sink's manifest: %v", err)
		}
	}
	if opts.AtLeastOnce && delivery == sdk.DeliveryExactlyOnce {
		tb.Errorf("SinkOptions.AtLeastOnce contradicts the sink's declared delivery %q", delivery)
	}
	if (opts.AtLeastOnce && delivery == sdk.DeliveryExactlyOnce) || delivery == "" {
		// Reported above; checked as at-least-once from here on, so the
		// scenarios do not repeat the contradiction as row failures.
		delivery = sdk.DeliveryAtLeastOnce
	}

	newScenario := func(name, flow, run string) *scenario {
		return &scenario{tb: tb, ctx: context.Background(), c: c, opts: opts, readBack: readBack,
			name: name, flow: flow, run: run, delivery: delivery, origin: map[string]string{}}
	}
	restart := newScenario("restart", "sdktest", "run-1")
	restartScenario(restart)
	if !restart.twoPhase {
		if delivery != sdk.DeliveryAtLeastOnce {
			tb.Errorf("sink declares delivery %q but does not implement sdk.Committer: only a two-phase sink can give it", delivery)
		}
		return
	}
	for _, sc := range []struct {
		name string
		fn   func(*scenario)
	}{
		{"restore-older", restoreOlder},
		{"recommit", recommit},
		{"commit-after-crash", commitAfterCrash},
	} {
		if reset != nil {
			reset()
		}
		s := newScenario(sc.name, "sdktest-two-phase", "sdktest-"+sc.name)
		// The target as the scenario found it: expectations are relative to
		// it, so scenarios stay independent of one another.
		s.base = readBack()
		sc.fn(s)
	}
}

// restartScenario is the check every sink gets: a failed attempt with rows
// after its last flush, then a restore from checkpoint 1.
func restartScenario(s *scenario) {
	s.tb.Helper()
	// Attempt 1: batch 0 flushed at checkpoint 1, batch 1 written, then the
	// attempt dies.
	s1 := s.open(nil, 0)
	want := s.write(s1, 0, "checkpoint 1")
	res := s.flush(s1, 1, false, len(want), nil)
	s.commit(s1, sdk.CommitRequest{CheckpointID: 1, Committables: res.Committables})
	lost := s.write(s1, 1, "attempt 1 after its last flush (discarded by Close)")
	s.close(s1, "Close")

	// Attempt 2 restores checkpoint 1, writes batch 2 and finishes.
	s2 := s.open(res.State, 1)
	s.commit(s2, sdk.CommitRequest{CheckpointID: 1, Committables: res.Committables, Restored: true})
	more := s.write(s2, 2, "checkpoint 2")
	res2 := s.flush(s2, 2, true, len(more), nil)
	s.commit(s2, sdk.CommitRequest{CheckpointID: 2, Committables: res2.Committables, Final: true})
	s.close(s2, "Close")
	s.checkRejected()
	want = append(want, more...)
	got := s.readBack()
	if s.opts.AtLeastOnce {
		got = removeAll(got, lost)
	}
	if diff := multisetDiff(got, want); diff != "" {
		s.failf("after a failed attempt and a restore", "final output",
			"want the rows of checkpoints 1 and 2 exactly once, saw: %s%s", diff, s.explain(got, want))
	}
}

// restoreOlder: the host crashed after Flush(2) and before the checkpoint
// was saved, so it restores checkpoint 1 and replays what followed it.
func restoreOlder(s *scenario) {
	s.tb.Helper()
	a := s.open(nil, 0)
	b1 := s.write(a, 10, "checkpoint 1")
	r1 := s.flush(a, 1, false, len(b1), b1)
	s.commit(a, sdk.CommitRequest{CheckpointID: 1, Committables: r1.Committables})
	afterCommit1 := s.readBack()
	b2 := s.write(a, 11, "checkpoint 2 of attempt 1 (pre-committed, then dropped by the restore from checkpoint 1 and written again)")
	s.flush(a, 2, false, len(b2), b2)
	s.close(a, "crash after Flush(2): Close without Commit(2)")

	b := s.open(r1.State, 1)
	s.commit(b, sdk.CommitRequest{CheckpointID: 1, Committables: r1.Committables, Restored: true})
	step := "Open(restored 1) and Commit(1, Restored)"
	got := s.readBack()
	if s.delivery == sdk.DeliveryExactlyOnce {
		// Nothing may have changed since Commit(1): not a second copy of
		// checkpoint 1, not a row of the discarded checkpoint 2.
		if diff := multisetDiff(got, afterCommit1); diff != "" {
			s.failf(step, "Open discards pre-commits after the restored checkpoint",
				"want the target as it was after Commit(1), saw: %s%s", diff, s.explain(got, afterCommit1))
		}
	} else {
		s.checkUnchanged(step, afterCommit1, got, b1)
	}
	// The source rewinds to checkpoint 1: the rows of checkpoint 2 come
	// again, then new ones. Ids never repeat in a run, so this is 3.
	replay := s.write(b, 11, "")
	b3 := s.write(b, 12, "checkpoint 3")
	cp3 := append(append([]string(nil), replay...), b3...)
	r3 := s.flush(b, 3, true, len(cp3), cp3)
	s.commit(b, sdk.CommitRequest{CheckpointID: 3, Committables: r3.Committables, Final: true})
	s.close(b, "Close")
	s.checkRejected()
	// b2's rows were written twice, and are wanted once: the first copy is
	// the one an at-least-once sink may keep.
	s.checkFinal(append(append(b1, b2...), b3...), b2)
}

// recommit: Commit is idempotent, in the same attempt and after a restore.
func recommit(s *scenario) {
	s.tb.Helper()
	a := s.open(nil, 0)
	b1 := s.write(a, 20, "checkpoint 1")
	r1 := s.flush(a, 1, false, len(b1), b1)
	req1 := sdk.CommitRequest{CheckpointID: 1, Committables: r1.Committables}
	s.commit(a, req1)
	before := s.readBack()
	s.commit(a, req1)
	s.checkUnchanged("Commit(1) a second time", before, s.readBack(), nil)

	b2 := s.write(a, 21, "checkpoint 2")
	r2 := s.flush(a, 2, false, len(b2), b2)
	s.commit(a, sdk.CommitRequest{CheckpointID: 2, Committables: r2.Committables})
	before = s.readBack()
	s.close(a, "crash after Commit(2)")

	b := s.open(r2.State, 2)
	s.commit(b, sdk.CommitRequest{CheckpointID: 2, Committables: r2.Committables, Restored: true})
	s.checkUnchanged("Open(restored 2) and Commit(2, Restored) of a checkpoint already committed", before, s.readBack(), nil)

	b3 := s.write(b, 22, "checkpoint 3")
	r3 := s.flush(b, 3, true, len(b3), b3)
	req3 := sdk.CommitRequest{CheckpointID: 3, Committables: r3.Committables, Final: true}
	s.commit(b, req3)
	before = s.readBack()
	s.commit(b, req3)
	s.checkUnchanged("Commit(3, Final) a second time", before, s.readBack(), nil)
	s.close(b, "Close")
	s.checkRejected()
	s.checkFinal(append(append(b1, b2...), b3...), nil)
}

// commitAfterCrash: the checkpoint was saved but the host crashed before
// Commit reached the sink; the restore's Commit publishes it.
func commitAfterCrash(s *scenario) {
	s.tb.Helper()
	a := s.open(nil, 0)
	b1 := s.write(a, 30, "checkpoint 1")
	r1 := s.flush(a, 1, false, len(b1), b1)
	s.commit(a, sdk.CommitRequest{CheckpointID: 1, Committables: r1.Committables})
	b2 := s.write(a, 31, "checkpoint 2 (committed only after the restore)")
	r2 := s.flush(a, 2, false, len(b2), b2)
	s.close(a, "crash after Flush(2): Close without Commit(2)")

	b := s.open(r2.State, 2)
	s.commit(b, sdk.CommitRequest{CheckpointID: 2, Committables: r2.Committables, Restored: true})
	b3 := s.write(b, 32, "checkpoint 3")
	r3 := s.flush(b, 3, true, len(b3), b3)
	s.commit(b, sdk.CommitRequest{CheckpointID: 3, Committables: r3.Committables, Final: true})
	s.close(b, "Close")
	s.checkRejected()
	s.checkFinal(append(append(b1, b2...), b3...), nil)
}

// scenario drives one run of a sink, as the host would, and reports
// failures naming the scenario, the step and the check.
type scenario struct {
	tb       testing.TB
	ctx      context.Context
	c        sdk.Component
	opts     SinkOptions
	readBack func() []string
	name     string
	flow     string
	run      string
	delivery sdk.Delivery
	// twoPhase is set once a sink it opened implements sdk.Committer.
	twoPhase bool
	// base is the target before the scenario.
	base     []string
	rejected []sdk.Rejected
	// origin names the checkpoint each row was written for, to say where
	// repeated or missing rows come from.
	origin map[string]string
}

func (s *scenario) failf(step, check, format string, args ...any) {
	s.tb.Helper()
	s.tb.Errorf("scenario %q, step %q: check %q failed: %s", s.name, step, check, fmt.Sprintf(format, args...))
}

func (s *scenario) fatalf(step, format string, args ...any) {
	s.tb.Helper()
	s.tb.Fatalf("scenario %q, step %q: %s", s.name, step, fmt.Sprintf(format, args...))
}

func (s *scenario) open(state []byte, restored int64) sdk.Sink {
	s.tb.Helper()
	sink, err := s.c.NewSinkFromConfig(s.opts.Config)
	if err != nil {
		s.fatalf("create sink", "%v", err)
	}
	init := sdk.SinkInit{Flow: s.flow, RunID: s.run, Reject: func(r sdk.Rejected) error {
		s.rejected = append(s.rejected, r)
		return nil
	}}
	step := "Open"
	if restored > 0 {
		// The protocol tells a restore by a non-nil state, even empty.
		if state == nil {
			state = []byte{}
		}
		init.RestoredState, init.RestoredCheckpointID = state, restored
		step = fmt.Sprintf("Open(restored %d)", restored)
	}
	_, s.twoPhase = sink.(sdk.Committer)
	if err := sink.Open(s.ctx, init); err != nil {
		s.fatalf(step, "%v", err)
	}
	return sink
}

// write writes batch i and records its rows as written for checkpoint
// label (an empty label keeps an earlier one).
func (s *scenario) write(sink sdk.Sink, i int, label string) []string {
	s.tb.Helper()
	rec := s.opts.Batch(i)
	defer rec.Release()
	if err := sink.Write(s.ctx, rec); err != nil {
		s.fatalf(fmt.Sprintf("Write batch %d", i), "%v", err)
	}
	rows := Rows(rec)
	if label != "" {
		for _, r := range rows {
			s.origin[r] = label
		}
	}
	return rows
}

// flush pre-commits checkpoint id, whose rows are pending, and checks the
// count and, for exactly-once sinks, that none of pending is visible yet
// (nil pending skips the visibility check).
func (s *scenario) flush(sink sdk.Sink, id int64, final bool, rows int, pending []string) sdk.FlushResult {
	s.tb.Helper()
	step := fmt.Sprintf("Flush(%d)", id)
	if final {
		step = fmt.Sprintf("Flush(%d, final)", id)
	}
	res, err := sink.Flush(s.ctx, id, final)
	if err != nil {
		s.fatalf(step, "%v", err)
	}
	if res.RowsWritten != int64(rows) {
		s.failf(step, "Flush reports the rows written since the previous flush",
			"want %d rows written, saw %d", rows, res.RowsWritten)
	}
	if pending != nil && s.delivery == sdk.DeliveryExactlyOnce {
		if n, eg := visible(s.readBack(), s.base, pending); n > 0 {
			s.failf(step+" then ReadBack before Commit", "nothing visible before Commit",
				"want none of checkpoint %d's %d rows in the target before its Commit (delivery exactly_once), saw %d (e.g. %q)",
				id, len(pending), n, eg)
		}
	}
	return res
}

func (s *scenario) commit(sink sdk.Sink, req sdk.CommitRequest) {
	s.tb.Helper()
	if err := commit(s.ctx, sink, req); err != nil {
		s.fatalf(commitStep(req), "%v", err)
	}
}

func commitStep(req sdk.CommitRequest) string {
	var flags []string
	if req.Restored {
		flags = append(flags, "Restored")
	}
	if req.Final {
		flags = append(flags, "Final")
	}
	if len(flags) == 0 {
		return fmt.Sprintf("Commit(%d)", req.CheckpointID)
	}
	return fmt.Sprintf("Commit(%d, %s)", req.CheckpointID, strings.Join(flags, ", "))
}

func (s *scenario) close(sink sdk.Sink, step string) {
	s.tb.Helper()
	if err := sink.Close(s.ctx); err != nil {
		s.fatalf(step, "Close: %v", err)
	}
}

func (s *scenario) checkRejected() {
	s.tb.Helper()
	if len(s.rejected) > 0 {
		s.fatalf("end of run", "sink rejected valid rows: %+v", s.rejected)
	}
}

// checkUnchanged reports a re-commit that changed the target. For an
// exactly-once sink the whole target must be as before; the others may
// publish at Write or Flush, so only the rows of only (committed before)
// are compared, or the whole target when only is nil.
func (s *scenario) checkUnchanged(step string, before, after, only []string) {
	s.tb.Helper()
	if only != nil && s.delivery != sdk.DeliveryExactlyOnce {
		before, after = keep(before, only), keep(after, only)
	}
	if diff := multisetDiff(after, before); diff != "" {
		s.failf(step, "Commit is idempotent", "want the target unchanged by the repeated commit, saw: %s%s", diff, s.explain(after, before))
	}
}

// checkFinal compares the target at the end of the scenario with base plus
// want, the rows of the checkpoints the run committed. uncovered are rows
// pre-committed under a checkpoint the restore dropped and written again:
// an at-least-once sink may show each of them once more.
func (s *scenario) checkFinal(want, uncovered []string) {
	s.tb.Helper()
	got := s.readBack()
	var expect []string
	what := "each row of the committed checkpoints exactly once"
	switch s.delivery {
	case sdk.DeliveryIdempotent:
		// Writing a row again changes nothing, so a row is there once
		// however often it was written; a second copy means it did change
		// something.
		what = "each distinct row of the committed checkpoints exactly once (idempotent)"
		expect = append(append([]string(nil), s.base...), distinct(want)...)
	case sdk.DeliveryAtLeastOnce:
		what = "each row of the committed checkpoints once, and rows of a dropped pre-commit at most once more (at_least_once)"
		expect = append(append([]string(nil), s.base...), want...)
		got = dropExtra(got, expect, uncovered)
	default:
		expect = append(append([]string(nil), s.base...), want...)
	}
	if diff := multisetDiff(got, expect); diff != "" {
		s.failf("final output after the last Commit", "final output", "want %s, saw: %s%s%s", what, diff, s.explain(got, expect), uncoveredHint(got, expect, uncovered, s.delivery))
	}
}

// uncoveredHint names the rule broken when the only surplus rows are those
// of a pre-commit that the restore dropped.
func uncoveredHint(got, expect, uncovered []string, d sdk.Delivery) string {
	extra, _ := diffRows(got, expect)
	if len(extra) == 0 || len(uncovered) == 0 || len(keep(extra, uncovered)) < len(extra) {
		return ""
	}
	if d == sdk.DeliveryIdempotent {
		return "; writing a row again must not add a second copy"
	}
	return "; what was pre-committed after the restored checkpoint is covered by no durable checkpoint: Open must discard it"
}

// explain says which checkpoints the rows that differ between got and want
// come from, and hints at a target that a run replaced.
func (s *scenario) explain(got, want []string) string {
	extra, missing := diffRows(got, want)
	var b strings.Builder
	for _, part := range []struct {
		what string
		rows []string
	}{{"repeated or unexpected", extra}, {"missing", missing}} {
		if labels := s.labels(part.rows); labels != "" {
			fmt.Fprintf(&b, "; the %s rows are from %s", part.what, labels)
		}
	}
	if len(missing) > 0 && len(s.base) > 0 {
		if n, _ := visible(s.base, nil, missing); n == len(missing) {
			b.WriteString("; the missing rows were in the target before this run (a sink whose runs replace the target needs SinkOptions.Reset)")
		}
	}
	return b.String()
}

func (s *scenario) labels(rows []string) string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		l := s.origin[r]
		if l == "" {
			l = "no checkpoint of this scenario"
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// visible counts the rows of rows that target holds more often than base
// does, and returns one of them.
func visible(target, base, rows []string) (int, string) {
	in := map[string]bool{}
	for _, r := range rows {
		in[r] = true
	}
	count := map[string]int{}
	for _, r := range target {
		if in[r] {
			count[r]++
		}
	}
	for _, r := range base {
		if in[r] {
			count[r]--
		}
	}
	n, eg := 0, ""
	for _, r := range rows {
		if count[r] > 0 {
			n++
			count[r]--
			eg = r
		}
	}
	return n, eg
}

// keep returns the rows of rows that are in only.
func keep(rows, only []string) []string {
	in := map[string]bool{}
	for _, r := range only {
		in[r] = true
	}
	var out []string
	for _, r := range rows {
		if in[r] {
			out = append(out, r)
		}
	}
	return out
}

func distinct(rows []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// dropExtra removes from got, for each row of allowed, one copy beyond what
// want has: the bounded duplicates an at-least-once sink may produce.
func dropExtra(got, want, allowed []string) []string {
	excess := map[string]int{}
	for _, r := range got {
		excess[r]++
	}
	for _, r := range want {
		excess[r]--
	}
	drop := map[string]int{}
	for _, r := range allowed {
		if excess[r] > 0 {
			excess[r]--
			drop[r]++
		}
	}
	var out []string
	for _, r := range got {
		if drop[r] > 0 {
			drop[r]--
			continue
		}
		out = append(out, r)
	}
	return out
}

// commit commits a checkpoint as the SDK's server does: Commit for a
// Committer, a notification for a CheckpointListener.
func commit(ctx context.Context, s sdk.Sink, req sdk.CommitRequest) error {
	switch c := s.(type) {
	case sdk.Committer:
		return c.Commit(ctx, req)
	case sdk.CheckpointListener:
		return c.NotifyCheckpointComplete(ctx, req.CheckpointID)
	}
	return nil
}

func removeAll(rows, drop []string) []string {
	d := map[string]int{}
	for _, r := range drop {
		d[r]++
	}
	var out []string
	for _, r := range rows {
		if d[r] > 0 {
			d[r]--
			continue
		}
		out = append(out, r)
	}
	return out
}

func defaultBatch(i int) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	ids := array.NewInt64Builder(mem)
	names := array.NewStringBuilder(mem)
	defer ids.Release()
	defer names.Release()
	for j := 0; j < 100; j++ {
		ids.Append(int64(i*100 + j))
		names.Append(fmt.Sprintf("name %d", i*100+j))
	}
	a, b := ids.NewArray(), names.NewArray()
	defer a.Release()
	defer b.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{a, b}, 100)
}

package sdktest

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/activedataflow/adf/sdk"
)

// store is an in-memory target: visible rows are what readers see; staged
// rows are pre-committed, per run and checkpoint, waiting for Commit.
type store struct {
	mu        sync.Mutex
	visible   []string
	staged    map[stageKey][]string
	committed map[stageKey]bool
	// files holds, per run, the rows a replacing sink publishes at its
	// final commit (one output file rewritten by every run).
	files map[string][]string
}

type stageKey struct {
	flow, run string
	id        int64
}

func newStore() *store {
	return &store{staged: map[stageKey][]string{}, committed: map[stageKey]bool{}, files: map[string][]string{}}
}

func (st *store) read() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.visible)
}

func (st *store) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.visible = nil
}

// bug selects how a memSink breaks the contract (zero: it does not).
type bug int

const (
	correct bug = iota
	// publishAtFlush makes rows visible at Flush; Commit does nothing.
	publishAtFlush
	// commitNotIdempotent publishes a checkpoint's rows at every Commit.
	commitNotIdempotent
	// keepStaged does not discard at Open what was pre-committed after the
	// restored checkpoint, and Commit(N) publishes every pre-commit of the
	// run up to N (as a sink appending to one temp file would).
	keepStaged
	// skipRestoredCommit takes a Restored commit as already done.
	skipRestoredCommit
	// replaceTarget publishes the run's rows at the final commit in place
	// of the target's content (correct, but needs SinkOptions.Reset).
	replaceTarget
)

// memSink is a two-phase sink over a store.
type memSink struct {
	st      *store
	bug     bug
	init    sdk.SinkInit
	pending []string
}

func (s *memSink) key(id int64) stageKey { return stageKey{s.init.Flow, s.init.RunID, id} }

func (s *memSink) Open(_ context.Context, init sdk.SinkInit) error {
	s.init = init
	if s.bug == keepStaged {
		return nil
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	// A fresh run has no durable checkpoint: every pre-commit of it is
	// unsaved; a restored one keeps those up to the restored id.
	for k := range s.st.staged {
		if k.flow == init.Flow && k.run == init.RunID && (init.RestoredState == nil || k.id > init.RestoredCheckpointID) {
			delete(s.st.staged, k)
		}
	}
	if init.RestoredState == nil {
		delete(s.st.files, init.RunID)
	}
	return nil
}

func (s *memSink) Write(_ context.Context, rec arrow.RecordBatch) error {
	s.pending = append(s.pending, Rows(rec)...)
	return nil
}

func (s *memSink) Flush(_ context.Context, id int64, _ bool) (sdk.FlushResult, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	res := sdk.FlushResult{RowsWritten: int64(len(s.pending)), State: []byte("{}"), Committables: []byte(strconv.FormatInt(id, 10))}
	if s.bug == publishAtFlush {
		s.st.visible = append(s.st.visible, s.pending...)
	} else {
		s.st.staged[s.key(id)] = s.pending
	}
	s.pending = nil
	return res, nil
}

func (s *memSink) Commit(_ context.Context, req sdk.CommitRequest) error {
	id, err := strconv.ParseInt(string(req.Committables), 10, 64)
	if err != nil || id != req.CheckpointID {
		return fmt.Errorf("committables %q are not checkpoint %d's", req.Committables, req.CheckpointID)
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	k := s.key(id)
	switch s.bug {
	case publishAtFlush:
		return nil
	case commitNotIdempotent:
		s.st.visible = append(s.st.visible, s.st.staged[k]...)
		return nil
	case keepStaged:
		var ids []int64
		for sk := range s.st.staged {
			if sk.flow == k.flow && sk.run == k.run && sk.id <= id {
				ids = append(ids, sk.id)
			}
		}
		slices.Sort(ids)
		for _, i := range ids {
			s.st.visible = append(s.st.visible, s.st.staged[s.key(i)]...)
			delete(s.st.staged, s.key(i))
		}
		return nil
	case skipRestoredCommit:
		if req.Restored {
			return nil
		}
	}
	if !s.st.committed[k] {
		rows, ok := s.st.staged[k]
		if !ok {
			return fmt.Errorf("checkpoint %d was never pre-committed", id)
		}
		if s.bug == replaceTarget {
			s.st.files[k.run] = append(s.st.files[k.run], rows...)
		} else {
			s.st.visible = append(s.st.visible, rows...)
		}
		delete(s.st.staged, k)
		s.st.committed[k] = true
	}
	if s.bug == replaceTarget && req.Final {
		s.st.visible = slices.Clone(s.st.files[k.run])
	}
	return nil
}

func (s *memSink) Close(context.Context) error {
	s.pending = nil
	return nil
}

// flushSink is a one-phase sink (no Committer): Flush publishes.
type flushSink struct {
	st      *store
	pending []string
	// set makes it idempotent: a row written again is stored once.
	set bool
}

func (s *flushSink) Open(context.Context, sdk.SinkInit) error { return nil }

func (s *flushSink) Write(_ context.Context, rec arrow.RecordBatch) error {
	s.pending = append(s.pending, Rows(rec)...)
	return nil
}

func (s *flushSink) Flush(context.Context, int64, bool) (sdk.FlushResult, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	res := sdk.FlushResult{RowsWritten: int64(len(s.pending))}
	for _, r := range s.pending {
		if !s.set || !slices.Contains(s.st.visible, r) {
			s.st.visible = append(s.st.visible, r)
		}
	}
	s.pending = nil
	return res, nil
}

func (s *flushSink) Close(context.Context) error { s.pending = nil; return nil }

// committingFlushSink is a flushSink with a Commit that publishes nothing:
// a two-phase sink in name whose output appears at Flush.
type committingFlushSink struct{ flushSink }

func (s *committingFlushSink) Commit(context.Context, sdk.CommitRequest) error { return nil }

type memConfig struct{}

func component(d sdk.Delivery, create func() sdk.Sink) sdk.Component {
	return sdk.NewSink("mem", "in-memory test sink", sdk.Capabilities{Delivery: d},
		func(*memConfig) (sdk.Sink, error) { return create(), nil })
}

func memComponent(st *store, d sdk.Delivery, b bug) sdk.Component {
	return component(d, func() sdk.Sink { return &memSink{st: st, bug: b} })
}

// recorder is a testing.TB that keeps failures instead of reporting them,
// so a test can assert that the kit fails, and how. Everything else goes
// to the embedded real test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	msgs   []string
	failed bool
}

func (r *recorder) Helper() {}
func (r *recorder) Fail()   { r.mu.Lock(); r.failed = true; r.mu.Unlock() }
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}
func (r *recorder) record(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs, r.failed = append(r.msgs, msg), true
}
func (r *recorder) Error(args ...any)                 { r.record(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.record(fmt.Sprintf(format, args...)) }

// FailNow ends the goroutine like testing.T's does; runKit runs the kit in
// one of its own for that.
func (r *recorder) FailNow()          { r.Fail(); runtime.Goexit() }
func (r *recorder) Fatal(args ...any) { r.record(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) {
	r.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// runKit runs the sink checks against c reporting to a recorder, and
// returns the failures.
func runKit(t *testing.T, c sdk.Component, st *store, opts SinkOptions) []string {
	t.Helper()
	rec := &recorder{TB: t}
	opts.ReadBack = func(*testing.T) []string { return st.read() }
	var reset func()
	if opts.Reset != nil {
		reset = st.reset
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		checkSink(rec, c, opts, st.read, reset)
	}()
	<-done
	if rec.Failed() && len(rec.msgs) == 0 {
		t.Fatal("the kit failed without a message")
	}
	return rec.msgs
}

// Sinks that keep the contract pass, through the public entry point.
func TestSinkConformingSinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    func(st *store) sdk.Component
		opts SinkOptions
	}{
		{"two-phase exactly_once", func(st *store) sdk.Component { return memComponent(st, sdk.DeliveryExactlyOnce, correct) }, SinkOptions{}},
		{"two-phase at_least_once", func(st *store) sdk.Component { return memComponent(st, "", correct) }, SinkOptions{}},
		{"replacing exactly_once with Reset", func(st *store) sdk.Component { return memComponent(st, sdk.DeliveryExactlyOnce, replaceTarget) },
			SinkOptions{Reset: func(*testing.T) {}}},
		{"one-phase at_least_once", func(st *store) sdk.Component {
			return component(sdk.DeliveryAtLeastOnce, func() sdk.Sink { return &flushSink{st: st} })
		}, SinkOptions{}},
		{"publishing at Flush, at_least_once", func(st *store) sdk.Component {
			return component(sdk.DeliveryAtLeastOnce, func() sdk.Sink { return &committingFlushSink{flushSink{st: st}} })
		}, SinkOptions{}},
		{"upserting at Flush, idempotent", func(st *store) sdk.Component {
			return component(sdk.DeliveryIdempotent, func() sdk.Sink { return &committingFlushSink{flushSink{st: st, set: true}} })
		}, SinkOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore()
			opts := tc.opts
			opts.ReadBack = func(*testing.T) []string { return st.read() }
			if opts.Reset != nil {
				opts.Reset = func(*testing.T) { st.reset() }
			}
			TestSink(t, tc.c(st), opts)
		})
	}
}

// Each broken sink fails, with a message naming the check it violates.
func TestSinkBrokenSinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    func(st *store) sdk.Component
		opts SinkOptions
		// want are the parts of one failure message.
		want []string
	}{
		{"publishes at Flush", func(st *store) sdk.Component { return memComponent(st, sdk.DeliveryExactlyOnce, publishAtFlush) }, SinkOptions{},
			[]string{`check "nothing visible before Commit"`, "Flush(1) then ReadBack before Commit", "want none of checkpoint 1's 100 rows", "saw 100"}},
		{"Commit not idempotent", func(st *store) sdk.Component { return memComponent(st, sdk.DeliveryExactlyOnce, commitNotIdempotent) }, SinkOptions{},
			[]string{`scenario "recommit"`, `step "Commit(1) a second time"`, `check "Commit is idempotent"`, "100 rows repeated"}},
		{"Commit not idempotent after a restore", func(st *store) sdk.Component { return memComponent(st, sdk.DeliveryExactlyOnce, commitNotIdempotent) }, SinkOptions{},
			[]string{`scenario "recommit"`, `Commit(2, Restored)`, `check "Commit is idempotent"`}},
		{"unsaved pre-commit kept at restore", func(st *store) sdk.Component { return memComponent(st, sdk.DeliveryExactlyOnce, keepStaged) }, SinkOptions{},
			[]string{`scenario "restore-older"`, `check "final output"`, "100 rows repeated", "Open must discard it"}},
		{"restored Commit skipped", func(st *store) sdk.Component { return memComponent(st, sdk.DeliveryExactlyOnce, skipRestoredCommit) }, SinkOptions{},
			[]string{`scenario "commit-after-crash"`, `check "final output"`, "100 rows missing", "committed only after the restore"}},
		{"replacing sink without Reset", func(st *store) sdk.Component { return memComponent(st, sdk.DeliveryExactlyOnce, replaceTarget) }, SinkOptions{},
			[]string{`check "final output"`, "needs SinkOptions.Reset"}},
		{"exactly_once without Committer", func(st *store) sdk.Component {
			return component(sdk.DeliveryExactlyOnce, func() sdk.Sink { return &flushSink{st: st} })
		}, SinkOptions{}, []string{"does not implement sdk.Committer"}},
		{"idempotent sink keeping duplicates", func(st *store) sdk.Component {
			return component(sdk.DeliveryIdempotent, func() sdk.Sink { return &committingFlushSink{flushSink{st: st}} })
		}, SinkOptions{}, []string{`scenario "restore-older"`, `check "final output"`, "(idempotent)", "100 rows repeated"}},
		{"AtLeastOnce option on an exactly_once sink", func(st *store) sdk.Component { return memComponent(st, sdk.DeliveryExactlyOnce, correct) },
			SinkOptions{AtLeastOnce: true}, []string{"AtLeastOnce contradicts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore()
			msgs := runKit(t, tc.c(st), st, tc.opts)
			for _, m := range msgs {
				t.Logf("kit: %s", m)
			}
			for _, m := range msgs {
				if containsAll(m, tc.want) {
					return
				}
			}
			t.Fatalf("no failure message contains all of %q", tc.want)
		})
	}
}

// The recorder sees a correct sink pass too, so the broken cases above fail
// because of their bug and not because of the harness.
func TestSinkRecorderPassesCorrectSink(t *testing.T) {
	st := newStore()
	if msgs := runKit(t, memComponent(st, sdk.DeliveryExactlyOnce, correct), st, SinkOptions{}); len(msgs) > 0 {
		t.Fatalf("correct sink failed: %q", msgs)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestDropExtraBoundsDuplicates(t *testing.T) {
	got := []string{"a", "a", "a", "b"}
	// One extra copy of a is allowed, not two.
	if diff := multisetDiff(dropExtra(got, []string{"a", "b"}, []string{"a"}), []string{"a", "b"}); !strings.Contains(diff, "1 rows repeated") {
		t.Fatalf("diff %q, want one repeated row", diff)
	}
	// An allowed row that is not repeated is not taken away.
	if diff := multisetDiff(dropExtra([]string{"a", "b"}, []string{"a", "b"}, []string{"a"}), []string{"a", "b"}); diff != "" {
		t.Fatalf("diff %q, want none", diff)
	}
}

package sdktest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/activedataflow/adf/sdk"
)

// SourceOptions configure TestSource.
type SourceOptions struct {
	// Config is the component's JSON config.
	Config []byte
	// Parallelism is the number of readers (default 2).
	Parallelism int
	// ExpectRows, when positive, is the number of rows the source must
	// produce.
	ExpectRows int64
	// MaxPolls bounds the run (default 1,000,000 PollNext calls).
	MaxPolls int
}

// TestSource checks a bounded source against the FLIP-27 contract:
//   - every reader reaches EndOfInput and every assigned split is reported
//     finished;
//   - splits survive EncodeSplit / DecodeSplit;
//   - a checkpoint taken mid-run (enumerator and reader states) restores
//     into a new enumerator and new readers that produce exactly the rows
//     the first run had not produced yet: none lost, none repeated;
//   - a source that reports the bytes it reads (sdk.AddSourceBytes) reports
//     exactly the sizes of its splits (sdk.SizedSplit) over a run, when
//     they all have one, and the bytes before a checkpoint plus those
//     after its restore add up to the same; splits it announces
//     (sdk.AnnounceSplits) are the ones it assigns.
func TestSource(t *testing.T, c sdk.Component, opts SourceOptions) {
	t.Helper()
	if opts.Parallelism <= 0 {
		opts.Parallelism = 2
	}
	if opts.MaxPolls <= 0 {
		opts.MaxPolls = 1_000_000
	}
	full := runSource(t, c, opts, nil, -1)
	if opts.ExpectRows > 0 && int64(len(full.rows)) != opts.ExpectRows {
		t.Fatalf("source produced %d rows, want %d", len(full.rows), opts.ExpectRows)
	}
	for id := range full.assigned {
		if !full.finished[id] {
			t.Errorf("split %q was assigned but never reported finished", id)
		}
	}
	checkSizes(t, full)
	if full.polls < 2 {
		return
	}
	// Interrupt a second run halfway and resume it from its checkpoint.
	half := runSource(t, c, opts, nil, full.polls/2)
	if half.cp == nil {
		t.Fatalf("no checkpoint taken after %d polls", full.polls/2)
	}
	rest := runSource(t, c, opts, half.cp, -1)
	combined := append(append([]string{}, half.rowsAtCheckpoint...), rest.rows...)
	if diff := multisetDiff(combined, full.rows); diff != "" {
		t.Fatalf("rows before the checkpoint plus rows after restoring it differ from an uninterrupted run: %s", diff)
	}
	if full.bytes > 0 && half.bytesAtCheckpoint+rest.bytes != full.bytes {
		t.Errorf("bytes read before the checkpoint (%d) plus after restoring it (%d) = %d, an uninterrupted run read %d",
			half.bytesAtCheckpoint, rest.bytes, half.bytesAtCheckpoint+rest.bytes, full.bytes)
	}
}

// checkSizes checks a full run's byte counts against its splits' sizes.
func checkSizes(t *testing.T, run *sourceRun) {
	t.Helper()
	for id := range run.announced {
		if !run.assigned[id] {
			t.Errorf("split %q was announced but never assigned", id)
		}
	}
	if run.bytes == 0 {
		return
	}
	var total int64
	for id := range run.assigned {
		size := run.sizes[id]
		if size <= 0 {
			return // a split of unknown size: no total to compare with
		}
		total += size
	}
	if run.bytes != total {
		t.Errorf("the readers reported %d bytes read, the splits' sizes add up to %d", run.bytes, total)
	}
}

type checkpoint struct {
	enum    []byte
	readers [][]sdk.Split
}

type sourceRun struct {
	rows             []string
	rowsAtCheckpoint []string
	cp               *checkpoint
	polls            int
	assigned         map[string]bool
	finished         map[string]bool
	// announced are the splits the enumerator announced; sizes the sizes
	// of the splits announced or assigned (sdk.SizedSplit).
	announced map[string]bool
	sizes     map[string]int64
	// bytes are the source bytes the readers reported; bytesAtCheckpoint
	// those before the checkpoint.
	bytes, bytesAtCheckpoint int64
}

// sized records a split's size when it has one.
func (r *sourceRun) sized(s sdk.Split) {
	if sz, ok := s.(sdk.SizedSplit); ok && sz.SizeBytes() > 0 {
		r.sizes[s.SplitID()] = sz.SizeBytes()
	}
}

type enumCtx struct {
	parallelism int
	assign      []assignment
	noMore      map[int]bool
	readers     []int
	periodic    []func(context.Context) error
	announced   []sdk.Split
}

// AnnounceSplits implements sdk.SplitAnnouncer.
func (e *enumCtx) AnnounceSplits(splits []sdk.Split) error {
	e.announced = append(e.announced, splits...)
	return nil
}

type assignment struct {
	reader int
	split  sdk.Split
}

func (e *enumCtx) AssignSplit(s sdk.Split, r int) error {
	e.assign = append(e.assign, assignment{r, s})
	return nil
}
func (e *enumCtx) AssignSplits(m map[int][]sdk.Split) error {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		for _, s := range m[id] {
			e.assign = append(e.assign, assignment{id, s})
		}
	}
	return nil
}
func (e *enumCtx) SignalNoMoreSplits(r int) error { e.noMore[r] = true; return nil }
func (e *enumCtx) RegisteredReaders() []int       { return append([]int(nil), e.readers...) }
func (e *enumCtx) Parallelism() int               { return e.parallelism }
func (e *enumCtx) CallPeriodically(_ time.Duration, fn func(context.Context) error) {
	e.periodic = append(e.periodic, fn)
}

type readerCtx struct {
	id       int
	requests *[]int
}

func (r *readerCtx) ReaderID() int { return r.id }
func (r *readerCtx) SendSplitRequest() error {
	*r.requests = append(*r.requests, r.id)
	return nil
}

type output struct {
	rows     *[]string
	finished map[string]bool
	emitted  int
	bytes    *int64
}

// AddSourceBytes implements sdk.SourceByteCounter.
func (o *output) AddSourceBytes(n int64) { *o.bytes += n }

func (o *output) Emit(_ string, rec arrow.RecordBatch) error {
	*o.rows = append(*o.rows, Rows(rec)...)
	o.emitted++
	return nil
}
func (o *output) Reject(sdk.Rejected) error { return nil }
func (o *output) SplitFinished(id string) error {
	o.finished[id] = true
	return nil
}

// roundTrip encodes and decodes a split as the protocol does.
func roundTrip(t *testing.T, src sdk.Source, s sdk.Split) sdk.Split {
	t.Helper()
	p, err := sdk.EncodeSplit(s)
	if err != nil {
		t.Fatalf("encode split %q: %v", s.SplitID(), err)
	}
	d, err := src.DecodeSplit(p.Id, p.Data)
	if err != nil {
		t.Fatalf("decode split %q: %v", s.SplitID(), err)
	}
	if d.SplitID() != s.SplitID() {
		t.Fatalf("split id changed in a round trip: %q -> %q", s.SplitID(), d.SplitID())
	}
	return d
}

// runSource drives a source like the host does, single-threaded. With
// snapshotAt ≥ 0 it checkpoints after that many polls and stops.
func runSource(t *testing.T, c sdk.Component, opts SourceOptions, restore *checkpoint, snapshotAt int) *sourceRun {
	t.Helper()
	ctx := context.Background()
	newSrc := func() sdk.Source {
		s, err := c.NewSourceFromConfig(opts.Config)
		if err != nil {
			t.Fatalf("create source: %v", err)
		}
		return s
	}
	src := newSrc()
	ectx := &enumCtx{parallelism: opts.Parallelism, noMore: map[int]bool{}}
	var enum sdk.SplitEnumerator
	var err error
	if restore != nil {
		enum, err = src.RestoreEnumerator(ectx, restore.enum)
	} else {
		enum, err = src.CreateEnumerator(ectx)
	}
	if err != nil {
		t.Fatalf("create enumerator: %v", err)
	}
	defer enum.Close()
	if err := enum.Start(ctx); err != nil {
		t.Fatalf("enumerator Start: %v", err)
	}
	run := &sourceRun{assigned: map[string]bool{}, finished: map[string]bool{}, announced: map[string]bool{}, sizes: map[string]int64{}}
	var requests []int
	readers := make([]sdk.SourceReader, opts.Parallelism)
	ended := make([]bool, opts.Parallelism)
	out := &output{rows: &run.rows, finished: run.finished, bytes: &run.bytes}
	for i := range readers {
		ectx.readers = append(ectx.readers, i)
		if err := enum.AddReader(ctx, i); err != nil {
			t.Fatalf("AddReader(%d): %v", i, err)
		}
		r, err := newSrc().CreateReader(&readerCtx{id: i, requests: &requests})
		if err != nil {
			t.Fatalf("create reader %d: %v", i, err)
		}
		defer r.Close()
		if restore != nil && i < len(restore.readers) && len(restore.readers[i]) > 0 {
			for _, s := range restore.readers[i] {
				run.assigned[s.SplitID()] = true
				run.sized(s)
			}
			if err := r.AddSplits(restore.readers[i]); err != nil {
				t.Fatalf("reader %d AddSplits(restored): %v", i, err)
			}
		}
		if err := r.Start(ctx); err != nil {
			t.Fatalf("reader %d Start: %v", i, err)
		}
		readers[i] = r
	}
	announced := func() {
		for _, s := range ectx.announced {
			run.announced[s.SplitID()] = true
			run.sized(s)
		}
		ectx.announced = nil
	}
	route := func() {
		announced()
		for len(requests) > 0 || len(ectx.assign) > 0 {
			for len(requests) > 0 {
				id := requests[0]
				requests = requests[1:]
				if err := enum.HandleSplitRequest(ctx, id, "sdktest"); err != nil {
					t.Fatalf("HandleSplitRequest(%d): %v", id, err)
				}
			}
			announced()
			for _, a := range ectx.assign {
				run.assigned[a.split.SplitID()] = true
				run.sized(a.split)
				if err := readers[a.reader].AddSplits([]sdk.Split{roundTrip(t, src, a.split)}); err != nil {
					t.Fatalf("reader %d AddSplits: %v", a.reader, err)
				}
			}
			ectx.assign = nil
		}
		for id := range ectx.noMore {
			readers[id].NotifyNoMoreSplits()
			delete(ectx.noMore, id)
		}
	}
	for {
		route()
		done := true
		for i, r := range readers {
			if ended[i] {
				continue
			}
			done = false
			if run.polls == snapshotAt {
				st, err := enum.SnapshotState(ctx, 1)
				if err != nil {
					t.Fatalf("enumerator SnapshotState: %v", err)
				}
				cp := &checkpoint{enum: st}
				for j, rr := range readers {
					splits, err := rr.SnapshotState(ctx, 1)
					if err != nil {
						t.Fatalf("reader %d SnapshotState: %v", j, err)
					}
					var rs []sdk.Split
					for _, s := range splits {
						rs = append(rs, roundTrip(t, src, s))
					}
					cp.readers = append(cp.readers, rs)
				}
				run.cp = cp
				run.rowsAtCheckpoint = append([]string(nil), run.rows...)
				run.bytesAtCheckpoint = run.bytes
				return run
			}
			run.polls++
			if run.polls > opts.MaxPolls {
				t.Fatalf("source did not finish within %d polls (readers ended: %v)", opts.MaxPolls, ended)
			}
			status, err := r.PollNext(ctx, out)
			if err != nil {
				t.Fatalf("reader %d PollNext: %v", i, err)
			}
			if status == sdk.EndOfInput {
				ended[i] = true
			}
			route()
		}
		if done {
			return run
		}
	}
}

// Rows renders each row of rec as one string (column values joined), to
// compare outputs as multisets.
func Rows(rec arrow.RecordBatch) []string {
	out := make([]string, rec.NumRows())
	cols := rec.Columns()
	var b strings.Builder
	for i := range out {
		b.Reset()
		for j, c := range cols {
			if j > 0 {
				b.WriteByte('\x1f')
			}
			if c.IsNull(i) {
				b.WriteString("\x00null")
			} else {
				b.WriteString(c.ValueStr(i))
			}
		}
		out[i] = b.String()
	}
	return out
}

func multisetDiff(got, want []string) string {
	extra, missing := diffRows(got, want)
	if len(extra) == 0 && len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("%d rows repeated or unexpected (e.g. %q), %d rows missing (e.g. %q)", len(extra), first(extra), len(missing), first(missing))
}

// diffRows returns the rows got has more often than want (extra) and those
// it has less often (missing), one entry per copy.
func diffRows(got, want []string) (extra, missing []string) {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		if count[g] == 0 {
			extra = append(extra, g)
			continue
		}
		count[g]--
	}
	// In want's order, so the example of a missing row is stable.
	for _, w := range want {
		if count[w] > 0 {
			count[w]--
			missing = append(missing, w)
		}
	}
	return extra, missing
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

package sdk

import "fmt"

// SplitQueue is the split bookkeeping of a reader that reads its splits one
// at a time, in FLIP-27's pull model: it queues assigned splits, asks the
// enumerator for one whenever it has none, and tells when the input has
// ended. A reader embeds it and only opens and reads splits:
//
//	func (r *reader) Start(context.Context) error       { return r.splits.Request() }
//	func (r *reader) AddSplits(s []sdk.Split) error     { return r.splits.Add(s) }
//	func (r *reader) NotifyNoMoreSplits()               { r.splits.NoMore() }
//	func (r *reader) PollNext(ctx context.Context, out sdk.ReaderOutput) (sdk.InputStatus, error) {
//		sp, opened, status, err := r.splits.Next()
//		if sp == nil { return status, err }
//		...read from sp (open it first when opened); at its end: r.splits.Finish()
//	}
//
// Like the reader, it is used from one goroutine.
type SplitQueue[S Split] struct {
	ctx     SourceReaderContext
	queue   []S
	current S
	active  bool
	noMore  bool
	asked   bool
}

// NewSplitQueue returns an empty queue that requests splits through ctx.
func NewSplitQueue[S Split](ctx SourceReaderContext) *SplitQueue[S] {
	return &SplitQueue[S]{ctx: ctx}
}

// Request asks for a split unless one is being read, queued or already
// requested, or the enumerator said no more will come.
func (q *SplitQueue[S]) Request() error {
	if q.asked || q.noMore || q.active || len(q.queue) > 0 {
		return nil
	}
	q.asked = true
	return q.ctx.SendSplitRequest()
}

// Add queues assigned (or restored) splits.
func (q *SplitQueue[S]) Add(splits []Split) error {
	for _, s := range splits {
		typed, ok := s.(S)
		if !ok {
			return fmt.Errorf("split %q is a %T, this reader reads %T", s.SplitID(), s, *new(S))
		}
		q.queue = append(q.queue, typed)
	}
	q.asked = false
	return nil
}

// NoMore records that the enumerator will assign nothing more.
func (q *SplitQueue[S]) NoMore() { q.noMore = true }

// Next returns the split to read: the current one, or the next queued one,
// which becomes current (opened is then true: the reader opens it). With no
// split it returns the zero S and the status to report: NothingAvailable (a
// split has been requested) or EndOfInput.
func (q *SplitQueue[S]) Next() (split S, opened bool, status InputStatus, err error) {
	if q.active {
		return q.current, false, MoreAvailable, nil
	}
	if len(q.queue) == 0 {
		var zero S
		if q.noMore {
			return zero, false, EndOfInput, nil
		}
		return zero, false, NothingAvailable, q.Request()
	}
	q.current, q.active = q.queue[0], true
	q.queue = q.queue[1:]
	return q.current, true, MoreAvailable, nil
}

// Finish ends the current split and requests another when none is queued.
func (q *SplitQueue[S]) Finish() error {
	var zero S
	q.current, q.active = zero, false
	return q.Request()
}

// Splits lists the unfinished splits, the current one first, for
// SnapshotState. A reader that keeps the current split's position outside
// the split value updates the split before returning it.
func (q *SplitQueue[S]) Splits() []Split {
	out := make([]Split, 0, len(q.queue)+1)
	if q.active {
		out = append(out, q.current)
	}
	for _, s := range q.queue {
		out = append(out, s)
	}
	return out
}

package engine

import (
	"maps"
	"slices"

	"github.com/activedataflow/adf/host/progress"
	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
)

// maxFinishedListed bounds the finished splits a run lists (in its splits
// events and its checkpoints): a continuous source finishes splits for as
// long as it runs. Older finished splits leave the list; their sizes stay
// in the source's total.
const maxFinishedListed = 1000

// SplitProgress is what a checkpoint keeps of the split assignment, so that
// a restored run still lists the splits finished before it and counts
// their sizes in the source's total. The pending and assigned splits need
// no record here: the restored enumerator announces its pending ones again,
// and the readers' states are the assigned ones.
type SplitProgress struct {
	// Finished are the splits read to their end, oldest first (at most the
	// last 1000).
	Finished []FinishedSplit `json:"finished,omitempty"`
	// EarlierBytes is the size of the finished splits no longer listed;
	// EarlierUnknown how many of them had no size.
	EarlierBytes   int64 `json:"earlier_bytes,omitempty"`
	EarlierUnknown int64 `json:"earlier_unknown,omitempty"`
}

// FinishedSplit is a split read to its end, for SplitProgress.
type FinishedSplit struct {
	ID     string `json:"id"`
	Reader int    `json:"reader"`
	// SizeBytes is the split's size (0: unknown).
	SizeBytes int64 `json:"size_bytes,omitempty"`
}

// splitBook is an attempt's view of its source's splits, for progress:
// every split the enumerator announced or assigned, its reader, its state,
// its size and its lag. Only the coordinator's goroutine uses it.
type splitBook struct {
	splits map[string]*bookSplit
	// order is the order splits became known in (finished ones that left
	// the list are gone from it).
	order    []string
	finished []string // finished splits listed, oldest first
	// earlierBytes, earlierUnknown: finished splits no longer listed.
	earlierBytes, earlierUnknown int64
	// dropped are the sizes of finished splits no longer listed that no
	// checkpoint has recorded yet (see progressOf).
	dropped map[string]int64
	changed bool
}

type bookSplit struct {
	progress.Split
	size int64 // 0: unknown
}

func newSplitBook() *splitBook {
	return &splitBook{splits: map[string]*bookSplit{}, dropped: map[string]int64{}}
}

// restore seeds the book from a checkpoint: its finished splits, then the
// readers' unfinished ones (those of readers the attempt no longer has are
// pending: they go back to the enumerator).
func (b *splitBook) restore(cp *Checkpoint, readers int) {
	if cp == nil {
		return
	}
	if p := cp.Progress; p != nil {
		b.earlierBytes, b.earlierUnknown = p.EarlierBytes, p.EarlierUnknown
		for _, f := range p.Finished {
			s := b.known(f.ID, f.SizeBytes)
			s.Reader, s.State = f.Reader, progress.SplitFinished
			b.markFinished(f.ID)
		}
	}
	for i, states := range cp.Readers {
		for _, st := range states {
			s := b.known(st.ID, st.SizeBytes)
			if s.State == progress.SplitFinished {
				// A reader may keep a finished split in its state until
				// its end is acknowledged upstream; it reports it finished
				// again.
				continue
			}
			if i < readers {
				s.Reader, s.State = i, progress.SplitAssigned
			} else {
				s.Reader, s.State = -1, progress.SplitPending
			}
		}
	}
	b.changed = true
}

// known returns the split, adding it as pending when new, and learns its
// size when it was unknown.
func (b *splitBook) known(id string, size int64) *bookSplit {
	s := b.splits[id]
	if s == nil {
		s = &bookSplit{Split: progress.Split{ID: id, Reader: -1, State: progress.SplitPending, Lag: -1}}
		b.splits[id] = s
		b.order = append(b.order, id)
		b.changed = true
	}
	if s.size <= 0 && size > 0 {
		s.size = size
		b.changed = true
	}
	return s
}

// discovered records splits the enumerator announced (SplitsDiscovered).
func (b *splitBook) discovered(splits []*adfv1.Split) {
	for _, p := range splits {
		b.known(p.Id, p.SizeBytes)
	}
}

// assigned records an assignment of splits to a reader.
func (b *splitBook) assigned(reader int, splits []*adfv1.Split) {
	for _, p := range splits {
		s := b.known(p.Id, p.SizeBytes)
		if s.State == progress.SplitFinished {
			b.unmarkFinished(p.Id)
		}
		if s.Reader != reader || s.State != progress.SplitAssigned {
			s.Reader, s.State = reader, progress.SplitAssigned
			b.changed = true
		}
	}
}

// returned records splits given back to the enumerator: pending again.
func (b *splitBook) returned(splits []*adfv1.Split) {
	for _, p := range splits {
		s := b.known(p.Id, p.SizeBytes)
		if s.State == progress.SplitFinished {
			b.unmarkFinished(p.Id)
		}
		s.Reader, s.State = -1, progress.SplitPending
		b.changed = true
	}
}

// finishedBy records splits a reader read to their end.
func (b *splitBook) finishedBy(reader int, ids []string) {
	for _, id := range ids {
		s := b.known(id, 0)
		if s.State == progress.SplitFinished {
			continue
		}
		s.Reader, s.State = reader, progress.SplitFinished
		b.markFinished(id)
		b.changed = true
	}
}

// markFinished lists a finished split, dropping the oldest beyond the cap.
func (b *splitBook) markFinished(id string) {
	b.finished = append(b.finished, id)
	for len(b.finished) > maxFinishedListed {
		old := b.finished[0]
		b.finished = b.finished[1:]
		if s := b.splits[old]; s != nil {
			if s.size > 0 {
				b.earlierBytes += s.size
			} else {
				b.earlierUnknown++
			}
			b.dropped[old] = s.size
			delete(b.splits, old)
		}
		b.dropOrder(old)
	}
}

func (b *splitBook) unmarkFinished(id string) {
	for i, f := range b.finished {
		if f == id {
			b.finished = append(b.finished[:i], b.finished[i+1:]...)
			return
		}
	}
}

func (b *splitBook) dropOrder(id string) {
	for i, o := range b.order {
		if o == id {
			b.order = append(b.order[:i], b.order[i+1:]...)
			return
		}
	}
}

// lag records the lags a reader reported.
func (b *splitBook) lag(lags map[string]int64) {
	for id, n := range lags {
		if s := b.splits[id]; s != nil && s.Lag != n {
			s.Lag = n
		}
	}
}

// size returns a split's size (0: unknown or not known), also of one that
// left the list and no checkpoint recorded yet.
func (b *splitBook) size(id string) int64 {
	if s := b.splits[id]; s != nil {
		return s.size
	}
	return b.dropped[id]
}

// total is the source's size: the sum of every split's size, 0 when one
// is unknown (or no split is known yet).
func (b *splitBook) total() int64 {
	if b.earlierUnknown > 0 {
		return 0
	}
	t := b.earlierBytes
	for _, s := range b.splits {
		if s.size <= 0 {
			return 0
		}
		t += s.size
	}
	return t
}

// list returns the splits in the order they became known.
func (b *splitBook) list() []progress.Split {
	out := make([]progress.Split, 0, len(b.order))
	for _, id := range b.order {
		out = append(out, b.splits[id].Split)
	}
	return out
}

// takeChange reports whether the book changed since the last call.
func (b *splitBook) takeChange() bool {
	c := b.changed
	b.changed = false
	return c
}

// progressOf is what a checkpoint keeps of the book: the finished splits
// listed before plus those the checkpoint's barriers report finished
// (finished, by reader), whatever the live book has seen since.
func (b *splitBook) progressOf(prev *SplitProgress, finished map[int][]string) *SplitProgress {
	p := &SplitProgress{}
	if prev != nil {
		p.Finished = append(p.Finished, prev.Finished...)
		p.EarlierBytes, p.EarlierUnknown = prev.EarlierBytes, prev.EarlierUnknown
	}
	seen := map[string]bool{}
	for _, f := range p.Finished {
		seen[f.ID] = true
	}
	for _, reader := range sortedKeys(finished) {
		for _, id := range finished[reader] {
			if !seen[id] {
				seen[id] = true
				p.Finished = append(p.Finished, FinishedSplit{ID: id, Reader: reader, SizeBytes: b.size(id)})
			}
		}
	}
	// Recorded now (or by an earlier checkpoint): the checkpoints keep
	// their sizes from here on.
	for id := range seen {
		delete(b.dropped, id)
	}
	for len(p.Finished) > maxFinishedListed {
		if p.Finished[0].SizeBytes > 0 {
			p.EarlierBytes += p.Finished[0].SizeBytes
		} else {
			p.EarlierUnknown++
		}
		p.Finished = p.Finished[1:]
	}
	if len(p.Finished) == 0 && p.EarlierBytes == 0 && p.EarlierUnknown == 0 {
		return nil
	}
	return p
}

func sortedKeys(m map[int][]string) []int { return slices.Sorted(maps.Keys(m)) }

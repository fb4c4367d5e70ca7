package api

import (
	"sync"
	"time"
)

// sampleKey identifies a kind of refused request: from one client address
// with one outcome.
type sampleKey struct{ client, outcome string }

// sampleEntry is the current window of one key.
type sampleEntry struct {
	start time.Time
	// row is the heartbeat log row the window's requests are counted in: 0
	// while it is being inserted, -1 when there is none (insert failed, or
	// the sampler only samples log lines).
	row int64
	// pending counts the requests folded into the row since the last flush,
	// folded those of the whole window.
	pending, folded int
}

// sampler folds refused requests: the first request of a key opens a
// window, in which the key's further requests are only counted. It keeps at
// most max keys; beyond that, requests of new keys are dropped (the
// metrics still count them) until windows end. It is safe for concurrent
// use.
type sampler struct {
	window time.Duration
	max    int

	mu   sync.Mutex
	m    map[sampleKey]*sampleEntry
	done map[int64]int // counts of ended windows not flushed yet, by row
}

// maxSampleKeys bounds the keys a sampler keeps (and so the rows and log
// lines one window can produce).
const maxSampleKeys = 4096

func newSampler(window time.Duration) *sampler {
	return &sampler{window: window, max: maxSampleKeys, m: map[sampleKey]*sampleEntry{}, done: map[int64]int{}}
}

// take accounts a request of k at now. When it opens a window, first is
// true and e is its entry (the caller logs the request and, for a row, calls
// setRow); prev is how many requests the key's previous window folded, when
// known. Otherwise the request is folded into the open window (or dropped,
// when the sampler is full).
func (s *sampler) take(k sampleKey, now time.Time) (e *sampleEntry, prev int, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.m[k]; old != nil {
		if now.Sub(old.start) < s.window {
			old.pending++
			old.folded++
			return nil, 0, false
		}
		prev = old.folded
		s.retire(k, old)
	}
	if len(s.m) >= s.max {
		s.sweep(now)
		if len(s.m) >= s.max {
			return nil, 0, false
		}
	}
	e = &sampleEntry{start: now}
	s.m[k] = e
	return e, prev, true
}

// setRow records the row of e's window (-1: none).
func (s *sampler) setRow(e *sampleEntry, row int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.row = row
}

// retire forgets k's entry e, keeping its unflushed count for flush.
func (s *sampler) retire(k sampleKey, e *sampleEntry) {
	if e.row > 0 && e.pending > 0 {
		s.done[e.row] += e.pending
	}
	delete(s.m, k)
}

// sweep forgets the entries whose window is over.
func (s *sampler) sweep(now time.Time) {
	for k, e := range s.m {
		if now.Sub(e.start) >= s.window {
			s.retire(k, e)
		}
	}
}

// flush returns the requests folded since the last flush, by row, and
// forgets the windows that are over.
func (s *sampler) flush(now time.Time) map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.done
	s.done = map[int64]int{}
	for k, e := range s.m {
		if e.row > 0 && e.pending > 0 {
			out[e.row] += e.pending
			e.pending = 0
		}
		if e.row != 0 && now.Sub(e.start) >= s.window {
			delete(s.m, k)
		}
	}
	return out
}

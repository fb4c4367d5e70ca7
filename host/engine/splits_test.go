package engine

import (
	"fmt"
	"testing"

	"github.com/activedataflow/adf/host/progress"
	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
)

func psplit(id string, size int64) *adfv1.Split { return &adfv1.Split{Id: id, SizeBytes: size} }

// The book follows a split from announced to assigned to finished, and the
// total is the sum of all sizes, unknown (0) while one split has none.
func TestSplitBookStatesAndTotal(t *testing.T) {
	b := newSplitBook()
	b.discovered([]*adfv1.Split{psplit("a", 10), psplit("b", 20)})
	if !b.takeChange() || b.takeChange() {
		t.Fatal("a discovery is one change")
	}
	if got := b.total(); got != 30 {
		t.Fatalf("total = %d, want 30", got)
	}
	b.assigned(1, []*adfv1.Split{psplit("a", 10)})
	b.assigned(0, []*adfv1.Split{psplit("c", 0)})
	if got := b.total(); got != 0 {
		t.Fatalf("total with a split of unknown size = %d, want 0 (unknown)", got)
	}
	b.finishedBy(1, []string{"a"})
	b.lag(map[string]int64{"b": 7, "nope": 1})
	want := []progress.Split{
		{ID: "a", Reader: 1, State: progress.SplitFinished, Lag: -1},
		{ID: "b", Reader: -1, State: progress.SplitPending, Lag: 7},
		{ID: "c", Reader: 0, State: progress.SplitAssigned, Lag: -1},
	}
	if got := b.list(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list = %+v, want %+v", got, want)
	}
	b.returned([]*adfv1.Split{psplit("c", 5)})
	if s := b.splits["c"]; s.State != progress.SplitPending || s.Reader != -1 {
		t.Fatalf("a returned split is %+v, want pending without reader", s.Split)
	}
	if got := b.total(); got != 35 {
		t.Fatalf("total once every size is known = %d, want 35", got)
	}
}

// Past 1000 finished splits the oldest leave the list, and their sizes
// stay in the total; a checkpoint keeps the same window.
func TestSplitBookCapsFinished(t *testing.T) {
	b := newSplitBook()
	finished := map[int][]string{}
	for i := 0; i < maxFinishedListed+5; i++ {
		id := fmt.Sprintf("s%04d", i)
		b.assigned(0, []*adfv1.Split{psplit(id, 2)})
		b.finishedBy(0, []string{id})
		finished[0] = append(finished[0], id)
	}
	if n := len(b.list()); n != maxFinishedListed {
		t.Fatalf("%d splits listed, want %d", n, maxFinishedListed)
	}
	if b.list()[0].ID != "s0005" {
		t.Fatalf("first listed = %s, want the oldest kept, s0005", b.list()[0].ID)
	}
	if got := b.total(); got != 2*(maxFinishedListed+5) {
		t.Fatalf("total = %d, want every split's size, %d", got, 2*(maxFinishedListed+5))
	}
	// One checkpoint covers them all: the five oldest left the live list
	// before it, and it still knows their sizes.
	p := b.progressOf(nil, finished)
	if len(p.Finished) != maxFinishedListed || p.EarlierBytes != 10 || p.EarlierUnknown != 0 {
		t.Fatalf("checkpoint progress: %d listed, earlier %d bytes and %d unknown; want %d, 10, 0",
			len(p.Finished), p.EarlierBytes, p.EarlierUnknown, maxFinishedListed)
	}
	if len(b.dropped) != 0 {
		t.Fatalf("sizes kept after the checkpoint recorded them: %v", b.dropped)
	}
}

// A restored book lists the checkpoint's finished splits and its readers'
// splits (pending when their reader is gone), with their sizes.
func TestSplitBookRestore(t *testing.T) {
	cp := &Checkpoint{
		Progress: &SplitProgress{Finished: []FinishedSplit{{ID: "done", Reader: 1, SizeBytes: 4}}, EarlierBytes: 6},
		Readers:  [][]SplitState{{{ID: "r0", SizeBytes: 5}}, {{ID: "done", SizeBytes: 4}}, {{ID: "gone", SizeBytes: 3}}},
	}
	b := newSplitBook()
	b.restore(cp, 2)
	want := []progress.Split{
		{ID: "done", Reader: 1, State: progress.SplitFinished, Lag: -1},
		{ID: "r0", Reader: 0, State: progress.SplitAssigned, Lag: -1},
		{ID: "gone", Reader: -1, State: progress.SplitPending, Lag: -1},
	}
	if got := b.list(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("restored list = %+v, want %+v", got, want)
	}
	if got := b.total(); got != 18 {
		t.Fatalf("restored total = %d, want 18", got)
	}
	if !b.takeChange() {
		t.Fatal("a restore is a change (its splits event)")
	}
}

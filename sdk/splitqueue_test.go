package sdk_test

import (
	"testing"

	"github.com/activedataflow/adf/sdk"
)

type testSplit struct{ id string }

func (s *testSplit) SplitID() string { return s.id }

type countingCtx struct{ requests int }

func (c *countingCtx) ReaderID() int           { return 0 }
func (c *countingCtx) SendSplitRequest() error { c.requests++; return nil }

func TestSplitQueue(t *testing.T) {
	ctx := &countingCtx{}
	q := sdk.NewSplitQueue[*testSplit](ctx)
	if err := q.Request(); err != nil || ctx.requests != 1 {
		t.Fatalf("first request: %v, %d requests", err, ctx.requests)
	}
	// No split yet: nothing available, and no second request while one is out.
	if sp, _, st, err := q.Next(); sp != nil || st != sdk.NothingAvailable || err != nil || ctx.requests != 1 {
		t.Fatalf("empty queue: %v %v %v, %d requests", sp, st, err, ctx.requests)
	}
	if err := q.Add([]sdk.Split{&testSplit{"a"}, &testSplit{"b"}}); err != nil {
		t.Fatal(err)
	}
	sp, opened, _, _ := q.Next()
	if sp.id != "a" || !opened {
		t.Fatalf("next = %v opened=%v, want a opened", sp, opened)
	}
	if sp, opened, _, _ = q.Next(); sp.id != "a" || opened {
		t.Fatalf("current = %v opened=%v, want a still open", sp, opened)
	}
	if got := q.Splits(); len(got) != 2 || got[0].SplitID() != "a" || got[1].SplitID() != "b" {
		t.Fatalf("splits = %v", got)
	}
	if err := q.Finish(); err != nil || ctx.requests != 1 {
		t.Fatalf("finish with b queued asked again: %d requests", ctx.requests)
	}
	if sp, _, _, _ = q.Next(); sp.id != "b" {
		t.Fatalf("next = %v, want b", sp)
	}
	if err := q.Finish(); err != nil || ctx.requests != 2 {
		t.Fatalf("finish of the last split must request another: %d requests", ctx.requests)
	}
	q.NoMore()
	if sp, _, st, _ := q.Next(); sp != nil || st != sdk.EndOfInput {
		t.Fatalf("after no more splits: %v %v, want end of input", sp, st)
	}
	if err := q.Add([]sdk.Split{otherSplit("x")}); err == nil {
		t.Fatal("a split of another type was accepted")
	}
}

type otherSplit string

func (o otherSplit) SplitID() string { return string(o) }

package engine_test

import (
	"context"
	"testing"
	"time"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
)

// A reader never has more batches in flight than the host granted credits:
// whatever the source's speed, the host buffers a bounded amount.
func TestReaderRespectsCredits(t *testing.T) {
	reg := newRegistry(t, "sdk/examples/sequence/cmd/adf-plugin-sequence")
	ent, err := reg.Lookup(sdk.KindSource, "sequence")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inst, err := reg.Launch(ctx, ent)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Kill()
	stream, err := inst.Source().Reader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send := func(c *adfv1.ReaderCommand) {
		t.Helper()
		if err := stream.Send(c); err != nil {
			t.Fatal(err)
		}
	}
	send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_Open_{Open: &adfv1.ReaderCommand_Open{
		Type: "sequence", Config: []byte(`{"count": 1000000, "batch_size": 100}`), InitialCredits: 2}}})
	events := make(chan *adfv1.ReaderEvent, 1000)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				close(events)
				return
			}
			events <- ev
		}
	}()
	// batches waits until want batches arrived (generous: a loaded machine
	// is slow to start the plugin), then counts what else arrives within a
	// quiet window: with no credit left, nothing may.
	batches := func(want int) int {
		n := 0
		deadline := time.After(30 * time.Second)
		var quiet <-chan time.Time
		for {
			if n >= want && quiet == nil {
				quiet = time.After(time.Second)
			}
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("reader stream ended")
				}
				if e := ev.GetError(); e != nil {
					t.Fatalf("reader error: %v", e)
				}
				if ev.GetSplitRequest() != nil {
					send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_AddSplits_{AddSplits: &adfv1.ReaderCommand_AddSplits{
						Splits: []*adfv1.Split{{Id: "all", Data: []byte(`{"id": "all", "next": 0, "end": 1000000}`)}}}}})
				}
				if ev.GetBatch() != nil {
					n++
				}
			case <-quiet:
				return n
			case <-deadline:
				return n
			}
		}
	}
	if n := batches(2); n != 2 {
		t.Fatalf("reader sent %d batches on 2 initial credits", n)
	}
	send(&adfv1.ReaderCommand{Command: &adfv1.ReaderCommand_Credit_{Credit: &adfv1.ReaderCommand_Credit{Batches: 3}}})
	if n := batches(3); n != 3 {
		t.Fatalf("reader sent %d batches on 3 more credits", n)
	}
}

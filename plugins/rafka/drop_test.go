package rafkaplugin_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// replyDropper forwards TCP connections to Redis and, when armed for a
// command, lets Redis run the next such command but drops the connection
// instead of passing its reply on: a connection lost after the server did
// the work, the window a Redis restart or a network cut hits.
type replyDropper struct {
	ln      net.Listener
	mu      sync.Mutex
	match   func([]byte) bool // the requests to drop the reply of
	armed   int               // replies still to drop
	dropped atomic.Int64
}

func newReplyDropper(t *testing.T, target string) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &replyDropper{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go d.serve(c, u)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return d
}

// arm drops the replies of the next n requests match accepts.
func (d *replyDropper) arm(match func([]byte) bool, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.match, d.armed = match, n
}

func (d *replyDropper) serve(c, u net.Conn) {
	var drop atomic.Bool
	go func() {
		defer u.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				d.mu.Lock()
				if d.armed > 0 && d.match(buf[:n]) {
					d.armed--
					drop.Store(true)
				}
				d.mu.Unlock()
				if _, werr := u.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := u.Read(buf)
		if n > 0 {
			if drop.Load() {
				// Redis ran the command; its reply never arrives.
				d.dropped.Add(1)
				u.Close()
				return
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// newEntriesRead matches the request of an XREADGROUP of new entries
// ("... STREAMS k1 k2 > >") as go-redis writes it (RESP).
func newEntriesRead(req []byte) bool {
	return bytes.Contains(bytes.ToUpper(req), []byte("$10\r\nXREADGROUP\r\n")) && bytes.HasSuffix(req, []byte("$1\r\n>\r\n"))
}

// autoClaim matches the request of an XAUTOCLAIM.
func autoClaim(req []byte) bool {
	return bytes.Contains(bytes.ToUpper(req), []byte("$10\r\nXAUTOCLAIM\r\n"))
}

// A connection lost after Redis ran an XREADGROUP ... > but before its reply
// arrived: Redis has moved the batch into the consumer's pending list. The
// reader must neither retry the read blindly (which skips the batch: it
// stays pending, lost to this run and read by the next one) nor emit
// anything twice: it re-reads its own pending entries after the newest id it
// read, then reads new ones. Every entry comes out once, and the
// checkpoint's completion leaves nothing pending.
func TestLostReadReplyRereadsPending(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 20000
	produceJSON(t, rdb, topic, 2, n, 0)
	opts, _ := redis.ParseURL(url)
	px := newReplyDropper(t, opts.Addr)
	r := singleReader(t, ctx, fmt.Sprintf(`{"url": "redis://%s/%d", "topic": %q, "group": "drop", "mode": "available_now", "format": "json", "batch_size": 500}`,
		px.ln.Addr(), opts.DB, topic))
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out := &collect{partitions: map[int32]bool{}}
	// Read a little first, so that the reader is past its recovery reads
	// (history reads of its pending entries) and reads new entries.
	for len(out.ids) < 2000 {
		if _, err := r.PollNext(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.SnapshotState(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Three lost replies in a row: go-redis's own retries (2) would each
	// read a further batch and the third would fail.
	px.arm(newEntriesRead, 3)
	for i := 0; i < 30 && px.dropped.Load() < 3; i++ {
		if _, err := r.PollNext(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	if px.dropped.Load() < 3 {
		t.Fatalf("only %d replies dropped", px.dropped.Load())
	}
	if err := r.NotifyCheckpointComplete(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Lost replies later on, and one more right at the end.
	px.arm(newEntriesRead, 2)
	drain(t, ctx, r, out)
	if _, err := r.SnapshotState(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := r.NotifyCheckpointComplete(ctx, 2); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d replies dropped, %d rows emitted", px.dropped.Load(), len(out.ids))
	sort.Slice(out.ids, func(i, j int) bool { return out.ids[i] < out.ids[j] })
	exactly(t, out.ids, 0, n)
	if p := pendingCount(t, rdb, topic, "drop"); p != 0 {
		t.Fatalf("%d entries left pending", p)
	}
}

// The same for XAUTOCLAIM: a claim whose reply was lost moved the entries
// to the claimer name (and reset their idle time, so the next XAUTOCLAIM
// does not find them for claim_idle). The reader re-reads the claimer's
// pending entries it has not emitted, and emits each claimed entry once.
func TestLostClaimReplyRereadsClaimed(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n = 3000
	produceJSON(t, rdb, topic, 1, n, 0)
	if err := rafka.EnsureGroup(ctx, rdb, topic, 0, "claim", "0"); err != nil {
		t.Fatal(err)
	}
	// A dead consumer read the first 1000 entries and never acknowledged.
	dead := readAs(t, rdb, topic, "claim", "dead", 1000)
	time.Sleep(50 * time.Millisecond)
	opts, _ := redis.ParseURL(url)
	px := newReplyDropper(t, opts.Addr)
	px.arm(autoClaim, 2)
	r := singleReader(t, ctx, fmt.Sprintf(`{"url": "redis://%s/%d", "topic": %q, "group": "claim", "mode": "available_now", "format": "json", "batch_size": 300, "claim_idle": "20ms"}`,
		px.ln.Addr(), opts.DB, topic))
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out := &collect{partitions: map[int32]bool{}}
	// A checkpoint every other poll, as a flow would take them, keeps the
	// reader's own entries from idling past claim_idle unacknowledged.
	deadline := time.Now().Add(time.Minute)
	for cp := int64(1); ; cp++ {
		st, err := r.PollNext(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if cp%2 == 0 || st == sdk.EndOfInput {
			if _, err := r.SnapshotState(ctx, cp); err != nil {
				t.Fatal(err)
			}
			if err := r.NotifyCheckpointComplete(ctx, cp); err != nil {
				t.Fatal(err)
			}
		}
		if st == sdk.EndOfInput {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no end of input after a minute; %d rows read", len(out.ids))
		}
	}
	if px.dropped.Load() < 2 {
		t.Fatalf("only %d XAUTOCLAIM replies dropped", px.dropped.Load())
	}
	t.Logf("%d replies dropped, %d rows emitted (%d claimed from a dead consumer)", px.dropped.Load(), len(out.ids), len(dead))
	sort.Slice(out.ids, func(i, j int) bool { return out.ids[i] < out.ids[j] })
	exactly(t, out.ids, 0, n)
	if p := pendingCount(t, rdb, topic, "claim"); p != 0 {
		t.Fatalf("%d entries left pending", p)
	}
}

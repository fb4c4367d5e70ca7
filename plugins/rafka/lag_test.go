package rafkaplugin_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// A reader's lag is the entries of its partition not yet delivered to its
// group: all of them before it reads, fewer as it reads, 0 once it has
// caught up. With an entry deleted after the group's position Redis cannot
// tell the lag (XINFO GROUPS answers nil), and the reader counts the
// entries instead.
func TestLagCountsUndeliveredEntries(t *testing.T) {
	ctx := context.Background()
	url := testkit.RedisURL(t)
	rdb := connect(t, url)
	topic := uniqueTopic(t, rdb)
	const n, batch = 100, 10
	produceJSON(t, rdb, topic, 1, n, 0)
	cfg := fmt.Sprintf(`{"url": %q, "topic": %q, "group": "lag", "format": "json", "batch_size": %d, "block": "50ms"}`, url, topic, batch)
	r := singleReader(t, ctx, cfg)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	lr, ok := r.(sdk.LagReporter)
	if !ok {
		t.Fatal("the rafka reader does not report its lag")
	}
	split := topic + ":0"
	lag := func() int64 {
		t.Helper()
		m, err := lr.Lag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := m[split]
		if !ok {
			t.Fatalf("lag %v has no entry for split %s", m, split)
		}
		return v
	}
	if got := lag(); got != n {
		t.Fatalf("lag before reading = %d, want %d", got, n)
	}
	out := &collect{partitions: map[int32]bool{}}
	for len(out.ids) < 3*batch {
		if _, err := r.PollNext(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := lag(), int64(n-len(out.ids)); got != want {
		t.Fatalf("lag after %d rows = %d, want %d", len(out.ids), got, want)
	}
	for len(out.ids) < n {
		if _, err := r.PollNext(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	if got := lag(); got != 0 {
		t.Fatalf("lag after reading everything = %d, want 0", got)
	}

	// Ten more entries, one of them deleted: Redis no longer knows the lag.
	produceJSON(t, rdb, topic, 1, 10, n)
	key := rafka.StreamKey(topic, 0)
	fresh, err := rdb.XRangeN(ctx, key, "-", "+", n+10).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.XDel(ctx, key, fresh[n+4].ID).Err(); err != nil {
		t.Fatal(err)
	}
	groups, err := rdb.XInfoGroups(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].Lag != -1 {
		t.Fatalf("XINFO GROUPS = %+v, want the group's lag unknown after XDEL", groups)
	}
	if got := lag(); got != 9 {
		t.Fatalf("counted lag = %d, want the 9 entries left after the group's position", got)
	}
}

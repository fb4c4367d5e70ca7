package rafkaplugin_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	rafkaplugin "github.com/activedataflow/adf/plugins/rafka"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// component returns the plugin's component of kind and type.
func component(t testing.TB, kind sdk.Kind, typ string) sdk.Component {
	t.Helper()
	for _, c := range rafkaplugin.Plugin().Components {
		if c.Kind() == kind && c.Type() == typ {
			return c
		}
	}
	t.Fatalf("rafka plugin has no %s %q", kind, typ)
	return sdk.Component{}
}

func connect(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// uniqueTopic is a topic name of this test only, deleted at the end.
func uniqueTopic(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = rafka.DeleteTopic(ctx, rdb, name)
		// The rafka sink's staging and commit keys of the topic.
		iter := rdb.Scan(ctx, 0, rafka.Prefix+":{"+name+"}:adf:*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return name
}

// produceJSON creates topic with partitions and appends n messages with
// keys k<i> and JSON values {"id": i, "name": "n<i>", "amount": i/4}.
func produceJSON(t testing.TB, rdb *redis.Client, topic string, partitions, n, from int) {
	t.Helper()
	ctx := context.Background()
	if err := rafka.CreateTopic(ctx, rdb, topic, partitions, true); err != nil {
		t.Fatal(err)
	}
	p, err := rafka.NewProducer(ctx, rdb, topic, rafka.ProducerOptions{PipelineSize: 2000})
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 20000
	msgs := make([]rafka.Message, 0, chunk)
	for i := from; i < from+n; i++ {
		msgs = append(msgs, rafka.Message{Key: fmt.Sprintf("k%d", i), HasKey: true,
			Value: fmt.Appendf(nil, `{"id": %d, "name": "n%d", "amount": %g}`, i, i, float64(i)/4)})
		if len(msgs) == chunk || i == from+n-1 {
			if _, err := p.Send(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
}

// pendingCount is the number of entries of group still pending on topic.
func pendingCount(t testing.TB, rdb *redis.Client, topic, group string) int64 {
	t.Helper()
	ctx := context.Background()
	n, err := rafka.Partitions(ctx, rdb, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for p := 0; p < n; p++ {
		res, err := rdb.XPending(ctx, rafka.StreamKey(topic, p), group).Result()
		if err != nil {
			t.Fatalf("XPENDING: %v", err)
		}
		total += res.Count
	}
	return total
}

package rafka_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
)

func client(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func topicName(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "pkgtest-" + t.Name() + "-" + hex.EncodeToString(b)
	return name
}

func TestLayoutAndPartitioning(t *testing.T) {
	if got := rafka.StreamKey("orders", 3); got != "rafka:{orders}:3" {
		t.Fatalf("StreamKey = %q", got)
	}
	if got := rafka.MetaKey("orders"); got != "rafka:{orders}:meta" {
		t.Fatalf("MetaKey = %q", got)
	}
	// FNV-1a 32 of "user-42" is 0x3f1a2ce6... whatever it is, it must be
	// the documented function: recompute it independently.
	for _, k := range []string{"", "a", "user-42", "zoë"} {
		h := uint32(2166136261)
		for _, c := range []byte(k) {
			h ^= uint32(c)
			h *= 16777619
		}
		if got, want := rafka.PartitionFor(k, 7), int(h%7); got != want {
			t.Errorf("PartitionFor(%q, 7) = %d, want FNV-1a %d", k, got, want)
		}
	}
	if rafka.CompareIDs("10-2", "9-9") != 1 || rafka.CompareIDs("10-2", "10-10") != -1 || rafka.CompareIDs("5-0", "5") != 0 {
		t.Error("CompareIDs orders ids wrongly")
	}
	for _, bad := range []string{"", "a{b}", "with space"} {
		if rafka.ValidTopic(bad) == nil {
			t.Errorf("ValidTopic(%q) accepted", bad)
		}
	}
}

func TestCreateProduceConsume(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	topic := topicName(t)
	t.Cleanup(func() { _ = rafka.DeleteTopic(context.Background(), rdb, topic) })

	if _, err := rafka.NewProducer(ctx, rdb, topic, rafka.ProducerOptions{}); err == nil {
		t.Fatal("producer for a missing topic accepted")
	}
	if err := rafka.CreateTopic(ctx, rdb, topic, 4, false); err != nil {
		t.Fatal(err)
	}
	if err := rafka.CreateTopic(ctx, rdb, topic, 4, false); err != nil {
		t.Fatalf("CreateTopic is not idempotent: %v", err)
	}
	if err := rafka.CreateTopic(ctx, rdb, topic, 6, false); err == nil {
		t.Fatal("CreateTopic changed the partition count without grow")
	}
	if err := rafka.CreateTopic(ctx, rdb, topic, 2, true); err == nil {
		t.Fatal("CreateTopic shrank a topic")
	}
	if v := rdb.HGet(ctx, rafka.MetaKey(topic), "partitions").Val(); v != "4" {
		t.Fatalf("meta partitions = %q, want 4", v)
	}
	p, err := rafka.NewProducer(ctx, rdb, topic, rafka.ProducerOptions{PipelineSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	// Same key → same partition, in order.
	var msgs []rafka.Message
	for i := 0; i < 50; i++ {
		msgs = append(msgs, rafka.Message{Key: "user-7", HasKey: true, Value: []byte(fmt.Sprint(i)), Headers: map[string]string{"h": "x"}})
	}
	ids, err := p.Send(ctx, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 50 {
		t.Fatalf("Send returned %d ids", len(ids))
	}
	part := rafka.PartitionFor("user-7", 4)
	got, err := rdb.XRange(ctx, rafka.StreamKey(topic, part), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 {
		t.Fatalf("partition %d holds %d entries, want all 50 of key user-7", part, len(got))
	}
	for i, m := range got {
		if m.Values["key"] != "user-7" || m.Values["value"] != fmt.Sprint(i) || m.Values["h"] != "x" || m.ID != ids[i] {
			t.Fatalf("entry %d = %v %v, want key user-7, value %d, header h=x, id %s", i, m.ID, m.Values, i, ids[i])
		}
	}
	// Round robin without a key: 40 messages → 10 per partition.
	msgs = msgs[:0]
	for i := 0; i < 40; i++ {
		msgs = append(msgs, rafka.Message{Value: []byte(fmt.Sprintf("rr-%d", i))})
	}
	if _, err := p.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	for q := 0; q < 4; q++ {
		n := rdb.XLen(ctx, rafka.StreamKey(topic, q)).Val()
		want := int64(10)
		if q == part {
			want += 50
		}
		if n != want {
			t.Errorf("partition %d has %d entries, want %d", q, n, want)
		}
	}

	// Consume: everything once; unacknowledged entries come back to a
	// consumer of the same name; acknowledged ones do not.
	c, err := rafka.NewConsumer(ctx, rdb, topic, "g", "c1", rafka.ConsumerOptions{Count: 9})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	var first []rafka.Entry
	for {
		es, err := c.Poll(ctx, -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		if first == nil {
			first = es
		} else if err := c.Ack(ctx, es...); err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			seen = append(seen, string(e.Value))
			if e.Time().IsZero() || e.Topic != topic {
				t.Fatalf("bad entry %+v", e)
			}
		}
	}
	if len(seen) != 90 {
		t.Fatalf("consumed %d entries, want 90", len(seen))
	}
	c2, err := rafka.NewConsumer(ctx, rdb, topic, "g", "c1", rafka.ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c2.Poll(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	ids1, ids2 := entryIDs(first), entryIDs(again)
	if fmt.Sprint(ids1) != fmt.Sprint(ids2) {
		t.Fatalf("restarted consumer got %v, want its unacknowledged entries %v", ids2, ids1)
	}
	if err := c2.Ack(ctx, again...); err != nil {
		t.Fatal(err)
	}
	if es, _ := c2.Poll(ctx, -1); len(es) != 0 {
		t.Fatalf("after acknowledging everything, Poll returned %d entries", len(es))
	}
	// Another group reads everything again.
	c3, err := rafka.NewConsumer(ctx, rdb, topic, "other", "x", rafka.ConsumerOptions{Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		es, err := c3.Poll(ctx, -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		n += len(es)
	}
	if n != 90 {
		t.Fatalf("second group read %d entries, want 90", n)
	}
}

func entryIDs(es []rafka.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, rafka.StreamKey(e.Topic, e.Partition)+"@"+e.ID)
	}
	sort.Strings(out)
	return out
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	topic := topicName(t)
	t.Cleanup(func() { _ = rafka.DeleteTopic(context.Background(), rdb, topic) })
	if err := rafka.CreateTopic(ctx, rdb, topic, 1, false); err != nil {
		t.Fatal(err)
	}
	p, err := rafka.NewProducer(ctx, rdb, topic, rafka.ProducerOptions{MaxLen: 100, Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []rafka.Message
	for i := 0; i < 500; i++ {
		msgs = append(msgs, rafka.Message{Value: []byte("v")})
	}
	if _, err := p.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if n := rdb.XLen(ctx, rafka.StreamKey(topic, 0)).Val(); n != 100 {
		t.Fatalf("MAXLEN 100 kept %d entries", n)
	}
}

package rafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Message is one message to produce.
type Message struct {
	// Key picks the partition (PartitionFor); empty with HasKey false means
	// round robin and no key field.
	Key    string
	HasKey bool
	// Value is stored in the value field.
	Value []byte
	// Headers become further fields of the entry (names key and value are
	// reserved and rejected).
	Headers map[string]string
}

// KeyedMessage returns a message with a key.
func KeyedMessage(key string, value []byte) Message {
	return Message{Key: key, HasKey: true, Value: value}
}

// ProducerOptions configure a Producer.
type ProducerOptions struct {
	// MaxLen trims each partition to about this many entries on every add
	// (XADD MAXLEN ~); 0 keeps everything.
	MaxLen int64
	// MinID trims entries with ids below it on every add (XADD MINID ~).
	MinID string
	// Exact makes trimming exact (=) instead of approximate (~), at a cost.
	Exact bool
	// PipelineSize is the number of XADDs sent per round trip (default 1000).
	PipelineSize int
}

// Producer appends messages to a topic's partitions.
type Producer struct {
	rdb        redis.UniversalClient
	topic      string
	partitions int
	opts       ProducerOptions
	rr         atomic.Uint64
}

// NewProducer returns a producer for an existing topic (see CreateTopic).
func NewProducer(ctx context.Context, rdb redis.UniversalClient, topic string, opts ProducerOptions) (*Producer, error) {
	n, err := Partitions(ctx, rdb, topic)
	if err != nil {
		return nil, err
	}
	if opts.PipelineSize <= 0 {
		opts.PipelineSize = 1000
	}
	if opts.MaxLen > 0 && opts.MinID != "" {
		return nil, errors.New("rafka: set MaxLen or MinID, not both")
	}
	return &Producer{rdb: rdb, topic: topic, partitions: n, opts: opts}, nil
}

// Partitions is the topic's partition count as of NewProducer or the last
// Refresh.
func (p *Producer) Partitions() int { return p.partitions }

// Refresh rereads the partition count (after a topic grew).
func (p *Producer) Refresh(ctx context.Context) error {
	n, err := Partitions(ctx, p.rdb, p.topic)
	if err != nil {
		return err
	}
	p.partitions = n
	return nil
}

// PartitionOf is the partition a message goes to: by key hash, or the next
// round-robin partition for a message without a key.
func (p *Producer) PartitionOf(m Message) int {
	if m.HasKey {
		return PartitionFor(m.Key, p.partitions)
	}
	return int((p.rr.Add(1) - 1) % uint64(p.partitions))
}

// Args returns the XADD arguments of a message for partition.
func (p *Producer) Args(m Message, partition int) *redis.XAddArgs {
	vals := make([]any, 0, 4+2*len(m.Headers))
	if m.HasKey {
		vals = append(vals, "key", m.Key)
	}
	vals = append(vals, "value", m.Value)
	if len(m.Headers) > 0 {
		names := make([]string, 0, len(m.Headers))
		for k := range m.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			vals = append(vals, k, m.Headers[k])
		}
	}
	a := &redis.XAddArgs{Stream: StreamKey(p.topic, partition), Values: vals, MaxLen: p.opts.MaxLen, MinID: p.opts.MinID, Approx: !p.opts.Exact}
	if a.MaxLen == 0 && a.MinID == "" {
		a.Approx = false
	}
	return a
}

// Send appends the messages, pipelined, and returns their entry ids in
// order. Messages with one key keep their order within their partition.
func (p *Producer) Send(ctx context.Context, msgs ...Message) ([]string, error) {
	ids := make([]string, 0, len(msgs))
	for start := 0; start < len(msgs); start += p.opts.PipelineSize {
		end := min(start+p.opts.PipelineSize, len(msgs))
		pipe := p.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, 0, end-start)
		for _, m := range msgs[start:end] {
			for h := range m.Headers {
				if h == "key" || h == "value" {
					return ids, fmt.Errorf("rafka: header name %q is reserved", h)
				}
			}
			cmds = append(cmds, pipe.XAdd(ctx, p.Args(m, p.PartitionOf(m))))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return ids, fmt.Errorf("rafka: produce to %s: %w", p.topic, err)
		}
		for _, c := range cmds {
			ids = append(ids, c.Val())
		}
	}
	return ids, nil
}

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	// Start is where a new group begins: "0" (earliest, the default), "$"
	// (latest) or an entry id. An existing group keeps its position.
	Start string
	// Partitions limits the consumer to these partitions (default all).
	Partitions []int
	// Count is the number of entries read per partition per call (default 100).
	Count int64
}

// Consumer reads a topic as one member of a consumer group.
type Consumer struct {
	rdb        redis.UniversalClient
	topic      string
	group      string
	name       string
	partitions []int
	count      int64
	history    map[int]string // partitions whose own pending entries are still being re-read: next id
}

// NewConsumer joins group as consumer name, creating the group on each
// partition when missing. Its first polls return the entries it read
// earlier but never acknowledged, then new entries.
func NewConsumer(ctx context.Context, rdb redis.UniversalClient, topic, group, name string, opts ConsumerOptions) (*Consumer, error) {
	n, err := Partitions(ctx, rdb, topic)
	if err != nil {
		return nil, err
	}
	if opts.Start == "" {
		opts.Start = "0"
	}
	if opts.Count <= 0 {
		opts.Count = 100
	}
	parts := opts.Partitions
	if len(parts) == 0 {
		for i := 0; i < n; i++ {
			parts = append(parts, i)
		}
	}
	c := &Consumer{rdb: rdb, topic: topic, group: group, name: name, partitions: parts, count: opts.Count, history: map[int]string{}}
	for _, p := range parts {
		if p < 0 || p >= n {
			return nil, fmt.Errorf("rafka: topic %s has no partition %d", topic, p)
		}
		if err := EnsureGroup(ctx, rdb, topic, p, group, opts.Start); err != nil {
			return nil, err
		}
		c.history[p] = "0"
	}
	return c, nil
}

// Poll returns the next entries: first the consumer's own pending entries
// (read before but not acknowledged), then new ones, waiting up to block for
// some (block < 0: do not wait). Acknowledge them with Ack once processed.
func (c *Consumer) Poll(ctx context.Context, block time.Duration) ([]Entry, error) {
	if len(c.history) > 0 {
		streams := make([]string, 0, 2*len(c.history))
		var order []int
		for _, p := range c.partitions {
			if _, ok := c.history[p]; ok {
				order = append(order, p)
				streams = append(streams, StreamKey(c.topic, p))
			}
		}
		for _, p := range order {
			streams = append(streams, c.history[p])
		}
		res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: c.group, Consumer: c.name, Streams: streams, Count: c.count, Block: -1}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("rafka: read pending entries of %s: %w", c.name, err)
		}
		var out []Entry
		got := map[int]bool{}
		for _, s := range res {
			p := c.partitionOf(s.Stream)
			for _, m := range s.Messages {
				out = append(out, EntryFromMessage(c.topic, p, m))
				c.history[p] = m.ID
				got[p] = true
			}
		}
		for _, p := range order {
			if !got[p] {
				delete(c.history, p)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	streams := make([]string, 0, 2*len(c.partitions))
	for _, p := range c.partitions {
		streams = append(streams, StreamKey(c.topic, p))
	}
	for range c.partitions {
		streams = append(streams, ">")
	}
	res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: c.group, Consumer: c.name, Streams: streams, Count: c.count, Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rafka: read %s: %w", c.topic, err)
	}
	var out []Entry
	for _, s := range res {
		p := c.partitionOf(s.Stream)
		for _, m := range s.Messages {
			out = append(out, EntryFromMessage(c.topic, p, m))
		}
	}
	return out, nil
}

// partitionOf maps a stream key of the topic back to its partition.
func (c *Consumer) partitionOf(key string) int {
	for _, p := range c.partitions {
		if StreamKey(c.topic, p) == key {
			return p
		}
	}
	return -1
}

// Ack acknowledges processed entries (XACK, pipelined per partition).
func (c *Consumer) Ack(ctx context.Context, entries ...Entry) error {
	byPart := map[int][]string{}
	for _, e := range entries {
		byPart[e.Partition] = append(byPart[e.Partition], e.ID)
	}
	pipe := c.rdb.Pipeline()
	for p, ids := range byPart {
		for start := 0; start < len(ids); start += 1000 {
			pipe.XAck(ctx, StreamKey(c.topic, p), c.group, ids[start:min(start+1000, len(ids))]...)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("rafka: ack on %s: %w", c.topic, err)
	}
	return nil
}

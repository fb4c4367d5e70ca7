// Package rafka is Kafka-style topics, partitions and consumer groups on
// Redis streams, for applications that produce to or consume from rafka
// outside an ADF flow. It uses exactly the layout the ADF rafka plugin uses,
// so data written here is read by a flow and the other way round.
//
// # Layout
//
// A topic T with N partitions is the N streams rafka:{T}:0 … rafka:{T}:N-1.
// The braces are a Redis Cluster hash tag: every key of a topic hashes to one
// slot, so one command (XREADGROUP over several partitions, MULTI) may touch
// several partitions. The hash rafka:{T}:meta holds the field partitions (the
// partition count). An entry's fields are key (optional), value, and any
// others as headers. An offset is a stream entry id ("1718000000000-3"); its
// first half is the append time in Unix milliseconds.
//
// # Partitioning
//
// A message with a key goes to partition FNV-1a-32(key) mod N (see
// PartitionFor): stable across processes, languages and releases, so every
// message of one key lands in one partition, in order. A message without a
// key goes round robin.
//
// # Consumer groups
//
// A consumer group is a Redis stream consumer group of the same name on every
// partition stream. Entries read by a consumer stay in the group's pending
// entries list (PEL) until acknowledged (Consumer.Ack); a consumer that
// restarts under the same name gets its pending entries again first.
package rafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Prefix begins every key of the layout.
const Prefix = "rafka"

// MaxPartitions bounds the partition count of a topic.
const MaxPartitions = 4096

// ErrNoTopic is returned when a topic's metadata hash does not exist.
var ErrNoTopic = errors.New("rafka: topic does not exist")

// StreamKey is the stream of one partition: rafka:{topic}:partition.
func StreamKey(topic string, partition int) string {
	return Prefix + ":{" + topic + "}:" + strconv.Itoa(partition)
}

// MetaKey is the topic's metadata hash: rafka:{topic}:meta.
func MetaKey(topic string) string { return Prefix + ":{" + topic + "}:meta" }

// PartitionFor is the partition of a message key among n partitions:
// FNV-1a 32-bit hash of the key's bytes, modulo n. This is the documented,
// stable rule every rafka producer uses.
func PartitionFor(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// ValidTopic reports whether name may be used as a topic: non-empty, at most
// 200 bytes, and free of braces (which would break the hash tag) and
// whitespace.
func ValidTopic(name string) error {
	if name == "" {
		return errors.New("topic name is empty")
	}
	if len(name) > 200 {
		return errors.New("topic name is longer than 200 bytes")
	}
	if strings.ContainsAny(name, "{} \t\r\n") {
		return fmt.Errorf("topic name %q contains a brace or whitespace", name)
	}
	return nil
}

// CreateTopic creates topic with the given partition count (sets the
// partitions field of its metadata hash). It is idempotent: an existing
// topic with the same count is left alone; one with fewer partitions is an
// error unless grow is set, when the count is raised (partitions are never
// removed: existing keys would move).
func CreateTopic(ctx context.Context, rdb redis.UniversalClient, topic string, partitions int, grow bool) error {
	if err := ValidTopic(topic); err != nil {
		return fmt.Errorf("rafka: %w", err)
	}
	if partitions < 1 || partitions > MaxPartitions {
		return fmt.Errorf("rafka: partitions must be between 1 and %d (got %d)", MaxPartitions, partitions)
	}
	set, err := rdb.HSetNX(ctx, MetaKey(topic), "partitions", partitions).Result()
	if err != nil {
		return fmt.Errorf("rafka: create topic %s: %w", topic, err)
	}
	if set {
		return nil
	}
	cur, err := Partitions(ctx, rdb, topic)
	if err != nil {
		return err
	}
	switch {
	case cur == partitions:
		return nil
	case cur > partitions:
		return fmt.Errorf("rafka: topic %s has %d partitions, more than %d (partitions are never removed)", topic, cur, partitions)
	case !grow:
		return fmt.Errorf("rafka: topic %s exists with %d partitions, not %d", topic, cur, partitions)
	}
	if err := rdb.HSet(ctx, MetaKey(topic), "partitions", partitions).Err(); err != nil {
		return fmt.Errorf("rafka: grow topic %s: %w", topic, err)
	}
	return nil
}

// Partitions returns the partition count of topic, or ErrNoTopic.
func Partitions(ctx context.Context, rdb redis.UniversalClient, topic string) (int, error) {
	v, err := rdb.HGet(ctx, MetaKey(topic), "partitions").Result()
	if errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("%w: %s (no %s)", ErrNoTopic, topic, MetaKey(topic))
	}
	if err != nil {
		return 0, fmt.Errorf("rafka: read partitions of %s: %w", topic, err)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPartitions {
		return 0, fmt.Errorf("rafka: %s has a bad partitions field %q", MetaKey(topic), v)
	}
	return n, nil
}

// DeleteTopic removes the topic's streams and metadata.
func DeleteTopic(ctx context.Context, rdb redis.UniversalClient, topic string) error {
	n, err := Partitions(ctx, rdb, topic)
	if errors.Is(err, ErrNoTopic) {
		return nil
	}
	if err != nil {
		return err
	}
	keys := []string{MetaKey(topic)}
	for p := 0; p < n; p++ {
		keys = append(keys, StreamKey(topic, p))
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("rafka: delete topic %s: %w", topic, err)
	}
	return nil
}

// EnsureGroup creates consumer group on one partition stream (creating the
// stream when missing) starting at start: "0" (earliest), "$" (latest) or an
// entry id. An existing group keeps its position (like a committed Kafka
// offset) and is not an error.
func EnsureGroup(ctx context.Context, rdb redis.UniversalClient, topic string, partition int, group, start string) error {
	err := rdb.XGroupCreateMkStream(ctx, StreamKey(topic, partition), group, start).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("rafka: create group %s on %s: %w", group, StreamKey(topic, partition), err)
	}
	return nil
}

// LastID returns the id of the newest entry ever added to one partition
// (its last-generated-id), "0-0" when the stream is empty or missing.
func LastID(ctx context.Context, rdb redis.UniversalClient, topic string, partition int) (string, error) {
	info, err := rdb.XInfoStream(ctx, StreamKey(topic, partition)).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return "0-0", nil
		}
		return "", fmt.Errorf("rafka: XINFO STREAM %s: %w", StreamKey(topic, partition), err)
	}
	if info.LastGeneratedID == "" {
		return "0-0", nil
	}
	return info.LastGeneratedID, nil
}

// ID is a parsed stream entry id: milliseconds and sequence number.
type ID struct {
	Ms, Seq uint64
}

// ParseID parses "ms-seq" (or "ms", sequence 0): decimal digits only, each
// part at most 2^64-1.
func ParseID(s string) (ID, error) {
	if id, ok := parseID(s); ok {
		return id, nil
	}
	return ID{}, fmt.Errorf("rafka: bad stream id %q", s)
}

// ParseIDBytes is ParseID of an id's bytes (as a raw Redis reply holds it).
// It does not allocate unless the id is bad.
func ParseIDBytes(b []byte) (ID, error) {
	if id, ok := parseID(b); ok {
		return id, nil
	}
	return ID{}, fmt.Errorf("rafka: bad stream id %q", b)
}

func parseID[T string | []byte](s T) (ID, bool) {
	i := 0
	for i < len(s) && s[i] != '-' {
		i++
	}
	ms, ok := parseDecimal(s[:i])
	if !ok {
		return ID{}, false
	}
	if i == len(s) {
		return ID{Ms: ms}, true
	}
	seq, ok := parseDecimal(s[i+1:])
	if !ok {
		return ID{}, false
	}
	return ID{Ms: ms, Seq: seq}, true
}

// parseDecimal is strconv.ParseUint(s, 10, 64) without its error value:
// one or more decimal digits, at most 2^64-1.
func parseDecimal[T string | []byte](s T) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := uint64(s[i] - '0')
		if d > 9 || n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// String renders the id as Redis does.
func (id ID) String() string { return string(id.Append(nil)) }

// Append appends the id as Redis renders it ("ms-seq") to dst.
func (id ID) Append(dst []byte) []byte {
	dst = strconv.AppendUint(dst, id.Ms, 10)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, id.Seq, 10)
}

// Compare returns -1, 0 or 1 as id is before, equal to or after o.
func (id ID) Compare(o ID) int {
	switch {
	case id.Ms < o.Ms:
		return -1
	case id.Ms > o.Ms:
		return 1
	case id.Seq < o.Seq:
		return -1
	case id.Seq > o.Seq:
		return 1
	}
	return 0
}

// Time is the entry's append time (the id's milliseconds).
func (id ID) Time() time.Time { return time.UnixMilli(int64(id.Ms)).UTC() }

// CompareIDs compares two entry ids; an unparseable id sorts first.
func CompareIDs(a, b string) int {
	x, okA := parseID(a)
	y, okB := parseID(b)
	switch {
	case !okA && !okB:
		return 0
	case !okA:
		return -1
	case !okB:
		return 1
	}
	return x.Compare(y)
}

// Entry is one message read from a partition.
type Entry struct {
	// Topic and Partition the entry was read from.
	Topic     string
	Partition int
	// ID is the stream entry id, the message's offset.
	ID string
	// Key is the message key; HasKey is false when the entry has none.
	Key    string
	HasKey bool
	// Value is the value field (nil when absent).
	Value []byte
	// Headers are the entry's other fields.
	Headers map[string]string
	// Deleted is set for a pending entry that was trimmed from the stream
	// before it was acknowledged: only its id is known.
	Deleted bool
}

// Time is the entry's append time, from its id.
func (e Entry) Time() time.Time {
	id, _ := ParseID(e.ID)
	return id.Time()
}

// EntryFromMessage converts a go-redis stream message into an Entry.
func EntryFromMessage(topic string, partition int, m redis.XMessage) Entry {
	e := Entry{Topic: topic, Partition: partition, ID: m.ID, Deleted: m.Values == nil}
	for k, v := range m.Values {
		s := fmt.Sprint(v)
		if sv, ok := v.(string); ok {
			s = sv
		}
		switch k {
		case "key":
			e.Key, e.HasKey = s, true
		case "value":
			e.Value = []byte(s)
		default:
			if e.Headers == nil {
				e.Headers = map[string]string{}
			}
			e.Headers[k] = s
		}
	}
	return e
}

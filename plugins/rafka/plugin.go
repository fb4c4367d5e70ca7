// Package rafkaplugin is the rafka plugin: a FLIP-27 source reading
// Kafka-style topics (partitions as Redis streams, consumer groups, XACK
// only once a checkpoint is durable), a sink appending to topics exactly
// once, and the redis_cache sink that stores each row under a key with a
// TTL. The Redis layout is the one of package rafka (plugins/rafka/rafka).
package rafkaplugin

import "github.com/activedataflow/adf/sdk"

// Version of the plugin.
const Version = "0.1.0"

// Plugin returns the rafka plugin's components.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "rafka",
		Version: Version,
		Components: []sdk.Component{
			sdk.NewSource("rafka", "Kafka-style topics on Redis streams: one split per partition, consumer groups (XREADGROUP), XACK after each durable checkpoint; continuous or available_now",
				sdk.Capabilities{Bounded: true, Unbounded: true, Checkpointing: true},
				func(cfg *SourceConfig) (sdk.Source, error) { return newSource(cfg) }),
			sdk.NewSink("rafka", "appends rows to a rafka topic (XADD, partition by key hash or round robin, MAXLEN/MINID retention); exactly-once: rows are staged in Redis at each checkpoint and published by an atomic, resumable Lua commit once the checkpoint is durable",
				sdk.Capabilities{Bounded: true, Unbounded: true, Checkpointing: true, ExactlyOnce: true, Delivery: sdk.DeliveryExactlyOnce},
				func(cfg *SinkConfig) (sdk.Sink, error) { return newTopicSink(cfg) }),
			sdk.NewSink("redis_cache", "stores each row in Redis under key_prefix + key_attribute (SET with TTL, pipelined): the cache role; idempotent: a replayed row is SET again to the same value",
				sdk.Capabilities{Bounded: true, Unbounded: true, Checkpointing: true, Delivery: sdk.DeliveryIdempotent},
				func(cfg *CacheConfig) (sdk.Sink, error) { return newCacheSink(cfg) }),
			sdk.NewSink("discard", "counts rows and drops them (for benchmarks and dry runs)",
				sdk.Capabilities{Bounded: true, Unbounded: true, Checkpointing: true, Delivery: sdk.DeliveryAtLeastOnce},
				func(*DiscardConfig) (sdk.Sink, error) { return &discardSink{}, nil }),
		},
	}
}

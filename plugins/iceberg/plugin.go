// Package iceberg is the iceberg plugin: Apache Iceberg tables as a sink and
// as a FLIP-27 source, through github.com/apache/iceberg-go.
//
// The sink writes Arrow batches as Parquet data files, closes them at the
// checkpoint's Flush (durable, but referenced by no snapshot: invisible) and
// appends them in one snapshot when the host commits the checkpoint after
// persisting it. Each snapshot's summary carries the flow, the run and the
// checkpoint id, which makes the commit idempotent and the output
// exactly-once (see README.md). The source scans a table (a snapshot, a time, a column
// selection, a row filter) with one split per scan task, or, in incremental
// mode, reads only the snapshots appended since the previous run.
package iceberg

import "github.com/activedataflow/adf/sdk"

// Version of the plugin.
const Version = "0.1.0"

// Plugin returns the iceberg plugin's components.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "iceberg",
		Version: Version,
		Components: []sdk.Component{
			sdk.NewSource("iceberg", "Apache Iceberg table scan (snapshot, time travel, columns, row filter; one split per scan task) or incremental read of the snapshots appended since the previous run",
				sdk.Capabilities{Bounded: true, Checkpointing: true},
				func(cfg *SourceConfig) (sdk.Source, error) { return newSource(cfg) }),
			sdk.NewSink("iceberg", "Apache Iceberg table: Parquet data files written at each checkpoint, appended in one snapshot carrying the checkpoint id once the checkpoint is durable (exactly-once, two-phase commit)",
				sdk.Capabilities{Bounded: true, Unbounded: true, Checkpointing: true, ExactlyOnce: true, Delivery: sdk.DeliveryExactlyOnce},
				func(cfg *SinkConfig) (sdk.Sink, error) { return newSink(cfg) }),
		},
	}
}

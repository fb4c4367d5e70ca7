// Package file is the file plugin: a FLIP-27 source reading CSV, JSON and
// JSON-lines files (one split per file, byte-range splits of large CSV and
// JSON-lines files, bounded or continuous discovery) and a two-phase sink
// writing CSV and JSON-lines exactly once (a single file published at the end
// of the run, or one part file per checkpoint in a directory, each published
// only once the host has saved the checkpoint).
package file

import "github.com/activedataflow/adf/sdk"

// Version of the plugin.
const Version = "0.1.0"

// Plugin returns the file plugin's components.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "file",
		Version: Version,
		Components: []sdk.Component{
			sdk.NewSource("file", "CSV, JSON and JSON-lines files: a file, a directory or a glob; large CSV and JSON-lines files are split into byte ranges read in parallel",
				sdk.Capabilities{Bounded: true, Unbounded: true, Checkpointing: true},
				func(cfg *SourceConfig) (sdk.Source, error) { return newSource(cfg) }),
			sdk.NewSink("file", "CSV or JSON-lines output, exactly once: a single file is written to a hidden temp file and renamed into place when the run's last checkpoint is saved; a directory (path ending in /) gets one part file per checkpoint, renamed into place once that checkpoint is saved",
				sdk.Capabilities{Bounded: true, Unbounded: true, Checkpointing: true, ExactlyOnce: true, Delivery: sdk.DeliveryExactlyOnce},
				func(cfg *SinkConfig) (sdk.Sink, error) {
					if isURL(cfg.Path) {
						return newObjSink(cfg)
					}
					return newSink(cfg)
				}),
		},
	}
}

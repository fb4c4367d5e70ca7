// Package file is the file plugin: a FLIP-27 source reading CSV, JSON and
// JSON-lines files (one split per file, byte-range splits of large CSV and
// JSON-lines files, bounded or continuous discovery) and a sink writing CSV
// and JSON-lines that commits atomically at each checkpoint.
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
			sdk.NewSink("file", "CSV or JSON-lines output, committed atomically at each checkpoint (temp file + rename)",
				sdk.Capabilities{Bounded: true, Unbounded: true, Checkpointing: true, ExactlyOnce: true},
				func(cfg *SinkConfig) (sdk.Sink, error) { return newSink(cfg) }),
		},
	}
}

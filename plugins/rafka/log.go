package rafkaplugin

import (
	"os"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// ackFailures counts the checkpoint completions whose XACK failed for good
// in this plugin process. The plugin exports no metrics; the count travels
// in the log line of each failure (failures_total).
var ackFailures atomic.Int64

// logger writes to stderr as JSON, which go-plugin forwards into the
// host's log with the plugin's name; the SDK keeps its own logger to
// itself, so this one mirrors its settings (ADF_LOG_LEVEL).
var logger = sync.OnceValue(func() hclog.Logger {
	level := os.Getenv("ADF_LOG_LEVEL")
	if level == "" {
		level = "info"
	}
	return hclog.New(&hclog.LoggerOptions{Name: "plugin.rafka", Level: hclog.LevelFromString(level), Output: os.Stderr, JSONFormat: true})
})

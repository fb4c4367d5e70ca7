package rafkaplugin

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/sdk"
)

// ackFailures counts the checkpoint completions whose XACK failed for good
// in this plugin process. The plugin exports no metrics; the count travels
// in the log line of each failure (failures_total).
var ackFailures atomic.Int64

// logger is the plugin's own logger: the SDK's, whose JSON lines reach the
// host's log with their level, tagged with the flow, run and component.
var logger = sync.OnceValue(func() hclog.Logger { return sdk.NewLogger("rafka") })

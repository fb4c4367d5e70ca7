// Command adf-plugin-chatty is a test plugin that logs: its sink writes an
// info line through the SDK's logger when it opens, with a field of its
// own, and a warning through the standard library's log package (as a
// library inside a plugin would), then discards what it is given. The
// tests check that both reach the host's log structured and tagged with
// the flow, the run and the component.
package main

import (
	"context"
	"log"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/activedataflow/adf/sdk"
)

type sinkConfig struct {
	Greeting string `json:"greeting,omitempty" jsonschema:"description=what the sink says when it opens, such as hello, or hi"`
}

type chatty struct{ cfg sinkConfig }

func (c *chatty) Open(_ context.Context, init sdk.SinkInit) error {
	sdk.NewLogger("chatty").Info("chatty sink opened", "greeting", c.cfg.Greeting)
	log.Printf("[WARN] chatty sink: a library warns through the log package")
	return nil
}
func (*chatty) Write(context.Context, arrow.RecordBatch) error { return nil }
func (*chatty) Close(context.Context) error                    { return nil }
func (*chatty) Flush(context.Context, int64, bool) (sdk.FlushResult, error) {
	return sdk.FlushResult{}, nil
}

func main() {
	sdk.Serve(sdk.Plugin{Name: "chatty", Version: "0.1.0", Components: []sdk.Component{
		sdk.NewSink("chatty", "a sink that logs when it opens, and discards everything", sdk.Capabilities{Bounded: true},
			func(c *sinkConfig) (sdk.Sink, error) { return &chatty{cfg: *c}, nil }),
	}})
}

// Command adf-plugin-stuck is a test plugin whose config check never
// returns: the host must give up on it.
package main

import (
	"context"

	"github.com/activedataflow/adf/sdk"
)

type config struct {
	Path string `json:"path"`
}

// Check implements sdk.Checker, and hangs the way a check stuck on a named
// pipe or a dead network file system does: it ignores ctx.
func (c *config) Check(context.Context) []*sdk.Error {
	select {}
}

func main() {
	sdk.Serve(sdk.Plugin{Name: "stuck", Version: "0.1.0", Components: []sdk.Component{
		sdk.NewSink("stuck", "a sink whose config check never returns", sdk.Capabilities{Bounded: true},
			func(*config) (sdk.Sink, error) { return nil, nil }),
	}})
}

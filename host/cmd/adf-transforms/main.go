// Command adf-transforms serves the host's built-in transforms (select,
// rename, cast, filter) over the ADF plugin protocol, so that a runtime that
// runs a flow outside the host (the Flink runtime) runs exactly the same
// transform code as `adf run`. It is not a plugin of the plugins directory:
// the host ships it with such flows.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/activedataflow/adf/host/transform"
	"github.com/activedataflow/adf/sdk"
)

// version is set with -ldflags "-X main.version=..." by release builds.
var version = "0.1.0"

func main() {
	p := sdk.Plugin{Name: "transforms", Version: version}
	for _, typ := range transform.Types() {
		desc, _, _ := transform.Describe(typ)
		p.Components = append(p.Components, sdk.NewTransform(typ, desc, func(cfg *map[string]any) (sdk.Transform, error) {
			return newTransform(typ, *cfg)
		}))
	}
	sdk.Serve(p)
}

// newTransform builds the built-in transform typ from its config; the
// transform package validates the config exactly as the host does.
func newTransform(typ string, cfg map[string]any) (sdk.Transform, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, sdk.ConfigError("", "transform %s: %v", typ, err)
	}
	t, err := transform.New(typ, raw)
	if err != nil {
		return nil, sdk.ConfigError("", "transform %s: %v", typ, err)
	}
	return adapter{t}, nil
}

// adapter serves a built-in transform as an sdk.Transform.
type adapter struct{ t transform.Transform }

// Process implements sdk.Transform; rejected rows keep their reason and
// their JSON text.
func (a adapter) Process(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, []sdk.Rejected, error) {
	out, rowErrs, err := a.t.Apply(ctx, rec)
	if err != nil {
		return nil, nil, fmt.Errorf("transform: %w", err)
	}
	rejected := make([]sdk.Rejected, 0, len(rowErrs))
	for _, e := range rowErrs {
		rejected = append(rejected, sdk.Rejected{Position: fmt.Sprintf("row %d of the batch", e.Row), Raw: []byte(e.Record), Reason: e.Reason})
	}
	if out != nil && out.NumRows() == 0 {
		out.Release()
		out = nil
	}
	return out, rejected, nil
}

// Package builtin registers the components the host provides itself: the
// `host` runtime and the built-in transforms (select, rename, cast, filter).
package builtin

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/host/transform"
	"github.com/activedataflow/adf/sdk"
)

// HostRuntime is the type of the built-in runtime: the flow runs in the host
// process, through the engine.
const HostRuntime = "host"

// hostRuntimeConfig is the (empty) config of the host runtime.
type hostRuntimeConfig struct{}

// Register adds the built-in components to reg.
func Register(reg *registry.Registry) error {
	rt := sdk.NewRuntime(HostRuntime, "runs the flow inside the adf host process (the default)",
		func(*hostRuntimeConfig) (sdk.Runtime, error) { return nil, nil })
	reg.AddBuiltin(sdk.KindRuntime, HostRuntime, "runs the flow inside the adf host process (the default)", rt.ConfigSchema())
	for _, typ := range transform.Types() {
		desc, schema, ok := transform.Describe(typ)
		if !ok {
			return fmt.Errorf("built-in transform %q has no description", typ)
		}
		reg.AddBuiltin(sdk.KindTransform, typ, desc, schema)
	}
	return nil
}

// Registry builds the registry of a plugins directory: the built-ins plus
// every plugin found there. opts configure it (registry.WithManifestCache).
func Registry(ctx context.Context, dir string, log hclog.Logger, opts ...registry.Option) (*registry.Registry, error) {
	reg := registry.New(dir, log, opts...)
	if err := Register(reg); err != nil {
		return nil, err
	}
	if err := reg.Scan(ctx); err != nil {
		return nil, err
	}
	return reg, nil
}

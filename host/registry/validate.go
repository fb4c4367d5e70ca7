package registry

import (
	"context"
	"fmt"
	"time"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
)

// ValidateTimeout bounds how long a plugin may take to validate and check
// one config.
var ValidateTimeout = 30 * time.Second

// ValidateConfig asks the plugin providing e to validate a config, exactly as
// the component would decode it when run. Errors are sdk.ConfigErrors whose
// field paths are relative to the config object.
func (r *Registry) ValidateConfig(ctx context.Context, e Entry, config []byte) error {
	_, err := r.CheckConfig(ctx, e, config)
	return err
}

// CheckConfig is ValidateConfig that also returns the plugin's warnings: what
// its config's cheap checks (sdk.Checker: a file exists, a host name
// resolves) found missing. A plugin checks only a config that is valid.
// Warnings and errors have field paths relative to the config object.
func (r *Registry) CheckConfig(ctx context.Context, e Entry, config []byte) (warnings []*sdk.Error, err error) {
	inst, err := r.Launch(ctx, e)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, ValidateTimeout)
	defer cancel()
	resp, err := inst.Plugin().ValidateConfig(rctx, &adfv1.ValidateConfig_Request{Kind: sdk.KindToProto(e.Kind), Type: e.Type, Config: config})
	if err != nil {
		inst.Kill()
		if timedOut(ctx, rctx, err) {
			return nil, &sdk.Error{Code: sdk.CodeUnavailable, Err: err,
				Summary: fmt.Sprintf("plugin %s did not validate the %s %q config within %s", e.Plugin.Name, e.Kind, e.Type, ValidateTimeout),
				Detail:  "its checks of what the config names may be stuck on a named pipe or an unreachable network file system; report it to the plugin's authors"}
		}
		return nil, fmt.Errorf("validate %s %q with plugin %s: %w", e.Kind, e.Type, e.Plugin.Name, err)
	}
	warnings, err = sdk.WarningsFromDiagnostics(resp.Diagnostics), sdk.ErrorFromDiagnostics(resp.Diagnostics)
	if err != nil {
		inst.Kill()
		return warnings, err
	}
	// The process answered and is idle: the run that usually follows a
	// validation takes it rather than start another.
	r.parking.park(e.Plugin.Path, inst)
	return warnings, nil
}

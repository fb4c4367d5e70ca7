package registry

import (
	"context"
	"fmt"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
)

// ValidateConfig asks the plugin providing e to validate a config, exactly as
// the component would decode it when run. Errors are sdk.ConfigErrors whose
// field paths are relative to the config object.
func (r *Registry) ValidateConfig(ctx context.Context, e Entry, config []byte) error {
	inst, err := r.Launch(ctx, e)
	if err != nil {
		return err
	}
	defer inst.Kill()
	resp, err := inst.Plugin().ValidateConfig(ctx, &adfv1.ValidateConfig_Request{Kind: sdk.KindToProto(e.Kind), Type: e.Type, Config: config})
	if err != nil {
		return fmt.Errorf("validate %s %q with plugin %s: %w", e.Kind, e.Type, e.Plugin.Name, err)
	}
	return sdk.ErrorFromDiagnostics(resp.Diagnostics)
}

package engine

import (
	"context"

	"github.com/activedataflow/adf/host/confine"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// CheckConfinement checks that everything f names is allowed by the
// process's policy (confine.Default: the file roots of ADF_FILE_ROOTS and
// the destinations of ADF_CONNECT_ALLOW): the config fields its
// components' schemas annotate as paths or destinations, and its
// dead_letter.path. Validate runs the same check; the runner runs it again
// right before a run starts, for flows saved before the policy changed. A
// refusal is sdk.ConfigErrors of sdk.CodePermissionDenied errors with full
// field paths; nil when all is allowed.
func CheckConfinement(ctx context.Context, reg *registry.Registry, f *flow.Flow) error {
	if errs := confine.Default().CheckFlow(ctx, f, schemaOf(reg)); len(errs) > 0 {
		return errs
	}
	return nil
}

// schemaOf returns the config schemas of the components installed in reg.
func schemaOf(reg *registry.Registry) func(kind sdk.Kind, typ string) []byte {
	return func(kind sdk.Kind, typ string) []byte {
		if reg == nil {
			return nil
		}
		e, err := reg.Lookup(kind, typ)
		if err != nil {
			return nil
		}
		return e.Schema
	}
}

package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// Validate checks a flow completely without running it: its own fields,
// that every component type is installed, and every component config against
// its plugin. Config errors come back as sdk.ConfigErrors with full paths
// ("source.config.path"); a missing type as the registry's MissingError.
func Validate(ctx context.Context, reg *registry.Registry, f *flow.Flow) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := Plan(reg, f); err != nil {
		return err
	}
	var errs sdk.ConfigErrors
	check := func(prefix string, kind sdk.Kind, c flow.Component) error {
		ent, err := reg.Lookup(kind, c.Type)
		if err != nil {
			return err
		}
		if ent.Builtin() {
			return nil
		}
		err = reg.ValidateConfig(ctx, ent, c.Config)
		for _, e := range sdk.AsErrors(err) {
			if e.Code != sdk.CodeInvalidConfig {
				return err
			}
			ce := *e
			ce.Field = prefix + ".config"
			if e.Field != "" {
				ce.Field += "." + e.Field
			}
			errs = append(errs, &ce)
		}
		return nil
	}
	if err := check("source", sdk.KindSource, f.Source); err != nil {
		return err
	}
	for i, t := range f.Transforms {
		if err := check(fmt.Sprintf("transforms[%d]", i), sdk.KindTransform, t); err != nil {
			return err
		}
	}
	if err := check("sink", sdk.KindSink, f.Sink); err != nil {
		return err
	}
	if f.Runtime != nil {
		if _, err := reg.Lookup(sdk.KindRuntime, f.Runtime.Type); err != nil {
			return err
		}
		if err := check("runtime", sdk.KindRuntime, *f.Runtime); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

var _ = errors.New

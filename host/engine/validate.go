package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/host/transform"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// Validate checks a flow completely without running it: its own fields,
// that every component type is installed, and every component config (built-in
// transforms here, plugin components by their plugin). A missing type is the
// registry's MissingError (all of them, joined); otherwise every bad field,
// of the flow and of every component, comes back at once as sdk.ConfigErrors
// with full paths ("on_error", "source.config.path", "transforms[0].config.expr").
func Validate(ctx context.Context, reg *registry.Registry, f *flow.Flow) error {
	var errs sdk.ConfigErrors
	if err := f.Validate(); err != nil {
		if !errors.As(err, &errs) {
			return err
		}
		errs = append(sdk.ConfigErrors(nil), errs...)
	}
	type part struct {
		prefix string
		kind   sdk.Kind
		c      flow.Component
	}
	var parts []part
	add := func(prefix string, kind sdk.Kind, c flow.Component) {
		if c.Type != "" { // a missing type is a flow field error above
			parts = append(parts, part{prefix, kind, c})
		}
	}
	add("source", sdk.KindSource, f.Source)
	for i, t := range f.Transforms {
		add(fmt.Sprintf("transforms[%d]", i), sdk.KindTransform, t)
	}
	add("sink", sdk.KindSink, f.Sink)
	if f.Runtime != nil {
		add("runtime", sdk.KindRuntime, *f.Runtime)
	}
	entries := make([]registry.Entry, len(parts))
	var missing []error
	for i, p := range parts {
		ent, err := reg.Lookup(p.kind, p.c.Type)
		if err != nil {
			missing = append(missing, fmt.Errorf("%s: %w", p.prefix, err))
		}
		entries[i] = ent
	}
	if len(missing) > 0 {
		return errors.Join(missing...)
	}
	for i, p := range parts {
		var err error
		switch {
		case !entries[i].Builtin():
			err = reg.ValidateConfig(ctx, entries[i], p.c.Config)
		case p.kind == sdk.KindTransform:
			if _, terr := transform.New(p.c.Type, p.c.Config); terr != nil {
				var ce *transform.ConfigError
				if !errors.As(terr, &ce) {
					return fmt.Errorf("%s: %w", p.prefix, terr)
				}
				err = sdk.ConfigError(ce.Path, "%s", ce.Reason)
			}
		}
		for _, e := range sdk.AsErrors(err) {
			if e.Code != sdk.CodeInvalidConfig {
				return fmt.Errorf("%s: %w", p.prefix, err)
			}
			ce := *e
			ce.Field = joinField(p.prefix+".config", e.Field)
			errs = append(errs, &ce)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// joinField appends a field path inside a config to its prefix; an empty
// path is the config as a whole.
func joinField(prefix, field string) string {
	field = strings.TrimPrefix(field, ".")
	if field == "" {
		return prefix
	}
	return prefix + "." + field
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/activedataflow/adf/host/confine"
	"github.com/activedataflow/adf/host/redact"
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
// Paths and destinations the process's policy refuses (see
// CheckConfinement) are among them, with code sdk.CodePermissionDenied.
func Validate(ctx context.Context, reg *registry.Registry, f *flow.Flow) error {
	_, err := ValidateWithWarnings(ctx, reg, f)
	return err
}

// ValidateWithWarnings is Validate that also returns the warnings of the
// plugins' cheap checks (sdk.Checker: an input file missing, a host name
// that does not resolve), with full field paths ("source.config.path").
// Warnings never make a flow invalid: what is missing now may be there when
// the flow runs. They come back even when err is not nil, for the
// components whose configs are valid.
//
// Nothing returned carries a secret of the flow: the values of its secret
// config fields and credentials recognised by their form are scrubbed from
// every message (host/redact).
func ValidateWithWarnings(ctx context.Context, reg *registry.Registry, f *flow.Flow) (warnings []*sdk.Error, err error) {
	warnings, err = validate(ctx, reg, f)
	secrets := redact.Secrets(f, schemaOf(reg))
	for i, w := range warnings {
		warnings[i] = redactError(secrets, w)
	}
	var list sdk.ConfigErrors
	if errors.As(err, &list) {
		out := make(sdk.ConfigErrors, len(list))
		for i, e := range list {
			out[i] = redactError(secrets, e)
		}
		return warnings, out
	}
	return warnings, secrets.Error(err)
}

// redactError returns a copy of e without secrets in its texts.
func redactError(secrets *redact.Set, e *sdk.Error) *sdk.Error {
	c := *e
	c.Summary, c.Detail = secrets.String(e.Summary), secrets.String(e.Detail)
	return &c
}

func validate(ctx context.Context, reg *registry.Registry, f *flow.Flow) (warnings []*sdk.Error, err error) {
	var errs sdk.ConfigErrors
	if err := f.Validate(); err != nil {
		if !errors.As(err, &errs) {
			return nil, err
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
		return nil, errors.Join(missing...)
	}
	// What the flow may touch: its paths under the file roots, its
	// destinations on the allow-list (permission_denied field errors).
	errs = append(errs, confine.Default().CheckFlow(ctx, f, schemaOf(reg))...)
	// The plugins check their configs at the same time, each in its own
	// process.
	type checked struct {
		ws  []*sdk.Error
		err error
	}
	results := make([]checked, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		if entries[i].Builtin() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := reg.CheckConfig(ctx, entries[i], p.c.Config)
			results[i] = checked{ws, err}
		}()
	}
	wg.Wait()
	for i, p := range parts {
		var err error
		var ws []*sdk.Error
		switch {
		case !entries[i].Builtin():
			ws, err = results[i].ws, results[i].err
		case p.kind == sdk.KindTransform:
			if _, terr := transform.New(p.c.Type, p.c.Config); terr != nil {
				var ce *transform.ConfigError
				if !errors.As(terr, &ce) {
					return warnings, fmt.Errorf("%s: %w", p.prefix, terr)
				}
				err = sdk.ConfigError(ce.Path, "%s", ce.Reason)
			}
		}
		for _, w := range ws {
			c := *w
			c.Field = joinField(p.prefix+".config", w.Field)
			warnings = append(warnings, &c)
		}
		for _, e := range sdk.AsErrors(err) {
			if e.Code != sdk.CodeInvalidConfig {
				return warnings, fmt.Errorf("%s: %w", p.prefix, err)
			}
			ce := *e
			ce.Field = joinField(p.prefix+".config", e.Field)
			errs = append(errs, &ce)
		}
	}
	if len(errs) > 0 {
		return warnings, errs
	}
	return warnings, nil
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

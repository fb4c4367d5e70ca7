package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/host/transform"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// validateFlow checks a flow completely, like engine.Validate, but reports
// every bad component config at once. engine.Validate returns as soon as
// engine.Plan fails, so a bad built-in transform config (a filter expr) hid
// every plugin config error (source.config.bogus, sink.config.path) and came
// back as a joined error that printConfigErrors could not list.
func validateFlow(ctx context.Context, reg *registry.Registry, f *flow.Flow) error {
	planErr := engine.Plan(reg, f)
	if planErr == nil {
		return engine.Validate(ctx, reg, f)
	}
	if !onlyConfigErrors(planErr) {
		// A component type is missing: the registry's error says what is
		// installed and how to install the rest.
		return planErr
	}
	var errs sdk.ConfigErrors
	check := func(prefix string, kind sdk.Kind, c flow.Component) error {
		ent, err := reg.Lookup(kind, c.Type)
		if err != nil {
			return err
		}
		if ent.Builtin() {
			if kind != sdk.KindTransform {
				return nil
			}
			_, err := transform.New(c.Type, c.Config)
			if err == nil {
				return nil
			}
			var ce *transform.ConfigError
			if !errors.As(err, &ce) {
				return fmt.Errorf("%s: %w", prefix, err)
			}
			errs = append(errs, sdk.ConfigError(joinField(prefix+".config", ce.Path), "%s", ce.Reason))
			return nil
		}
		err = reg.ValidateConfig(ctx, ent, c.Config)
		for _, e := range sdk.AsErrors(err) {
			if e.Code != sdk.CodeInvalidConfig {
				return err
			}
			ce := *e
			ce.Field = joinField(prefix+".config", e.Field)
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
		if err := check("runtime", sdk.KindRuntime, *f.Runtime); err != nil {
			return err
		}
	}
	if len(errs) == 0 {
		return planErr
	}
	return errs
}

// onlyConfigErrors reports whether err (possibly an errors.Join tree) holds
// nothing but invalid-config errors.
func onlyConfigErrors(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !onlyConfigErrors(e) {
				return false
			}
		}
		return true
	}
	var ce sdk.ConfigErrors
	if errors.As(err, &ce) {
		return true
	}
	var se *sdk.Error
	return errors.As(err, &se) && se.Code == sdk.CodeInvalidConfig
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

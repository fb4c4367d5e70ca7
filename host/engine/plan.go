package engine

import (
	"errors"
	"fmt"

	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/host/transform"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// plan is a flow with its component types resolved.
type plan struct {
	source registry.Entry
	sink   registry.Entry
	stages []stageSpec
	// sourceColumns are the only source columns the flow uses, when its
	// first transform says (a select); the readers get them as a hint.
	sourceColumns []string
}

// stageSpec is one transform: built into the host or provided by a plugin.
type stageSpec struct {
	index   int
	typ     string
	config  []byte
	builtin transform.Transform
	plugin  registry.Entry
}

// Plan resolves every component type the flow names, before anything runs.
// All missing types are reported together, each with the registry's helpful
// message; built-in transform configs are validated here too.
func Plan(reg *registry.Registry, f *flow.Flow) error {
	_, err := (&Engine{opts: Options{Registry: reg}}).plan(f)
	return err
}

func (e *Engine) plan(f *flow.Flow) (*plan, error) {
	reg := e.opts.Registry
	var errs []error
	p := &plan{}
	var err error
	if p.source, err = reg.Lookup(sdk.KindSource, f.Source.Type); err != nil {
		errs = append(errs, err)
	}
	if p.sink, err = reg.Lookup(sdk.KindSink, f.Sink.Type); err != nil {
		errs = append(errs, err)
	}
	for i, t := range f.Transforms {
		ent, err := reg.Lookup(sdk.KindTransform, t.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("transforms[%d]: %w", i, err))
			continue
		}
		st := stageSpec{index: i, typ: t.Type, config: t.Config}
		if ent.Builtin() {
			tr, err := transform.New(t.Type, t.Config)
			if err != nil {
				var ce *transform.ConfigError
				if errors.As(err, &ce) {
					path := fmt.Sprintf("transforms[%d].config", i)
					if ce.Path != "" {
						path += "." + ce.Path
					}
					err = sdk.ConfigError(path, "%s", ce.Reason)
				}
				errs = append(errs, err)
				continue
			}
			st.builtin = tr
		} else {
			st.plugin = ent
		}
		p.stages = append(p.stages, st)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(p.stages) > 0 && p.stages[0].builtin != nil {
		p.sourceColumns = transform.InputColumns(p.stages[0].builtin)
	}
	if !p.source.Builtin() && p.source.Capabilities != nil && !p.source.Capabilities.Bounded && !p.source.Capabilities.Unbounded {
		return nil, fmt.Errorf("source %q declares neither bounded nor unbounded reading", f.Source.Type)
	}
	return p, nil
}

package sdk

import (
	"fmt"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
)

// Kind is what a component is.
type Kind string

// Component kinds.
const (
	KindSource    Kind = "source"
	KindSink      Kind = "sink"
	KindTransform Kind = "transform"
	KindRuntime   Kind = "runtime"
)

// Capabilities are advertised in the manifest.
type Capabilities struct {
	Bounded, Unbounded, Checkpointing, ExactlyOnce bool
	// Delivery is a sink's guarantee (default DeliveryAtLeastOnce). A sink
	// that states DeliveryExactlyOnce or DeliveryIdempotent implements
	// Committer.
	Delivery Delivery
}

// Component is one source, sink, transform or runtime a plugin provides. Build
// it with NewSource, NewSink, NewTransform or NewRuntime.
type Component struct {
	kind         Kind
	typ          string
	description  string
	capabilities Capabilities
	config       *configSpec
	err          error

	newSource    func(cfg any) (Source, error)
	newSink      func(cfg any) (Sink, error)
	newTransform func(cfg any) (Transform, error)
	newRuntime   func(cfg any) (Runtime, error)
}

// Kind of the component.
func (c Component) Kind() Kind { return c.kind }

// Type name used in flow files.
func (c Component) Type() string { return c.typ }

// ConfigSchema is the JSON Schema of the component's config.
func (c Component) ConfigSchema() []byte {
	if c.config == nil {
		return nil
	}
	return c.config.schemaJSON
}

// DecodeConfig validates a JSON config object and returns the typed config
// (a pointer to the component's config struct), or ConfigErrors.
func (c Component) DecodeConfig(raw []byte) (any, error) {
	if c.err != nil {
		return nil, c.err
	}
	return c.config.decode(raw)
}

func newComponent[C any](kind Kind, typ, description string, caps Capabilities) Component {
	spec, err := newConfigSpec[C]()
	return Component{kind: kind, typ: typ, description: description, capabilities: caps, config: spec, err: err}
}

// NewSource declares a source component whose config is the struct C. The
// SDK decodes and validates the flow's config into a *C before calling create.
func NewSource[C any](typ, description string, caps Capabilities, create func(cfg *C) (Source, error)) Component {
	c := newComponent[C](KindSource, typ, description, caps)
	c.newSource = func(cfg any) (Source, error) { return create(cfg.(*C)) }
	return c
}

// NewSink declares a sink component whose config is the struct C.
func NewSink[C any](typ, description string, caps Capabilities, create func(cfg *C) (Sink, error)) Component {
	c := newComponent[C](KindSink, typ, description, caps)
	c.newSink = func(cfg any) (Sink, error) { return create(cfg.(*C)) }
	return c
}

// NewTransform declares a transform component whose config is the struct C.
func NewTransform[C any](typ, description string, create func(cfg *C) (Transform, error)) Component {
	c := newComponent[C](KindTransform, typ, description, Capabilities{})
	c.newTransform = func(cfg any) (Transform, error) { return create(cfg.(*C)) }
	return c
}

// NewRuntime declares a runtime component whose config is the struct C.
func NewRuntime[C any](typ, description string, create func(cfg *C) (Runtime, error)) Component {
	c := newComponent[C](KindRuntime, typ, description, Capabilities{})
	c.newRuntime = func(cfg any) (Runtime, error) { return create(cfg.(*C)) }
	return c
}

// Plugin is everything one plugin binary provides.
type Plugin struct {
	// Name of the plugin ("file"); the binary is adf-plugin-<Name>.
	Name string
	// Version of the plugin, semver.
	Version string
	// Components the plugin provides.
	Components []Component
}

func (p *Plugin) find(kind Kind, typ string) (Component, error) {
	for _, c := range p.Components {
		if c.kind == kind && c.typ == typ {
			if c.err != nil {
				return Component{}, c.err
			}
			return c, nil
		}
	}
	return Component{}, &Error{Code: CodeNotFound, Summary: fmt.Sprintf("plugin %q has no %s of type %q", p.Name, kind, typ)}
}

// instantiate decodes cfg and creates the component.
func (p *Plugin) config(kind Kind, typ string, raw []byte) (Component, any, error) {
	c, err := p.find(kind, typ)
	if err != nil {
		return Component{}, nil, err
	}
	v, err := c.config.decode(raw)
	if err != nil {
		return Component{}, nil, err
	}
	return c, v, nil
}

func kindToProto(k Kind) adfv1.Component_Kind {
	switch k {
	case KindSource:
		return adfv1.Component_KIND_SOURCE
	case KindSink:
		return adfv1.Component_KIND_SINK
	case KindTransform:
		return adfv1.Component_KIND_TRANSFORM
	case KindRuntime:
		return adfv1.Component_KIND_RUNTIME
	}
	return adfv1.Component_KIND_UNSPECIFIED
}

// KindFromProto maps the protocol's kind to Kind.
func KindFromProto(k adfv1.Component_Kind) Kind {
	switch k {
	case adfv1.Component_KIND_SOURCE:
		return KindSource
	case adfv1.Component_KIND_SINK:
		return KindSink
	case adfv1.Component_KIND_TRANSFORM:
		return KindTransform
	case adfv1.Component_KIND_RUNTIME:
		return KindRuntime
	}
	return ""
}

// KindToProto maps Kind to the protocol's kind.
func KindToProto(k Kind) adfv1.Component_Kind { return kindToProto(k) }

func (p *Plugin) manifest() *adfv1.Manifest {
	m := &adfv1.Manifest{Name: p.Name, Version: p.Version, ProtocolVersion: ProtocolVersion}
	for _, c := range p.Components {
		caps := &adfv1.Capabilities{
			Bounded: c.capabilities.Bounded, Unbounded: c.capabilities.Unbounded,
			Checkpointing: c.capabilities.Checkpointing, ExactlyOnce: c.capabilities.ExactlyOnce,
		}
		if c.kind == KindSink {
			// This SDK always drives sinks through Commit (a sink without a
			// Committer treats it as a checkpoint notification).
			caps.TwoPhase = true
			caps.Delivery = string(c.capabilities.Delivery)
			if caps.Delivery == "" {
				caps.Delivery = string(DeliveryAtLeastOnce)
			}
			caps.ExactlyOnce = caps.Delivery == string(DeliveryExactlyOnce)
		}
		m.Components = append(m.Components, &adfv1.Component{
			Kind:         kindToProto(c.kind),
			Type:         c.typ,
			Description:  c.description,
			Capabilities: caps,
			ConfigSchema: c.ConfigSchema(),
		})
	}
	return m
}

// NewSourceFromConfig decodes a JSON config and creates the source, as the
// SDK does when the host opens it. For tests (see sdk/sdktest).
func (c Component) NewSourceFromConfig(raw []byte) (Source, error) {
	if c.kind != KindSource {
		return nil, fmt.Errorf("%s %q is not a source", c.kind, c.typ)
	}
	v, err := c.DecodeConfig(raw)
	if err != nil {
		return nil, err
	}
	return c.newSource(v)
}

// NewSinkFromConfig decodes a JSON config and creates the sink. For tests.
func (c Component) NewSinkFromConfig(raw []byte) (Sink, error) {
	if c.kind != KindSink {
		return nil, fmt.Errorf("%s %q is not a sink", c.kind, c.typ)
	}
	v, err := c.DecodeConfig(raw)
	if err != nil {
		return nil, err
	}
	return c.newSink(v)
}

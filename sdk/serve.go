package sdk

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
)

// ProtocolVersion is the plugin protocol version (proto/adf/v1).
const ProtocolVersion = 1

// PluginSetName is the go-plugin name under which every ADF plugin serves.
const PluginSetName = "adf"

// Handshake is the go-plugin handshake shared by the host and every plugin.
// A plugin written in another language prints the same handshake line (see
// go-plugin's guide for non-Go plugins) and serves proto/adf/v1.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   "ADF_PLUGIN_MAGIC_COOKIE",
		MagicCookieValue: "5b2c1f7e-adf-plugin-v1",
	}
}

// GRPCPlugin adapts an ADF plugin to go-plugin. Plugin authors use Serve; the
// host uses GRPCPlugin with a nil Plugin to obtain the client connection.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Plugin is served on the plugin side; nil on the host side.
	Plugin *Plugin
	// Logger receives the plugin's own log lines.
	Logger hclog.Logger
}

// GRPCServer registers the ADF services.
func (g *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	srv := &server{p: g.Plugin, log: g.Logger}
	adfv1.RegisterPluginServer(s, srv)
	adfv1.RegisterSourceServer(s, srv)
	adfv1.RegisterSinkServer(s, srv)
	adfv1.RegisterTransformServer(s, srv)
	adfv1.RegisterRuntimeServer(s, srv)
	return nil
}

// GRPCClient returns the *grpc.ClientConn; the host builds the service
// clients from it.
func (g *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}

// Serve runs the plugin until the host ends it. Call it from main:
//
//	func main() { sdk.Serve(sdk.Plugin{Name: "hello", Version: "0.1.0", Components: ...}) }
//
// Run by hand (not by the host) it prints a short explanation and exits 1.
func Serve(p Plugin) {
	if os.Getenv(Handshake().MagicCookieKey) != Handshake().MagicCookieValue {
		fmt.Fprintf(os.Stderr, "adf-plugin-%s %s: this is an ADF plugin; put it in the plugins directory (ADF_PLUGIN_DIR, default ./plugins) and run `adf plugins list`\n", p.Name, p.Version)
		os.Exit(1)
	}
	logger := NewLogger(p.Name)
	captureStandardLogs(logger)
	go exitWithParent(logger)
	tuneGC()
	stopProfile := StartCPUProfile("adf-plugin-" + p.Name)
	defer stopProfile()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake(),
		Plugins:         plugin.PluginSet{PluginSetName: &GRPCPlugin{Plugin: &p, Logger: logger}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
			return grpc.NewServer(opts...)
		},
		Logger: logger,
	})
}

// tuneGC lets the heap grow to 5x the live data between collections
// (GOGC=400) unless GOGC is set, with a soft limit of 1 GiB unless
// GOMEMLIMIT is set: a plugin's live heap is a few batches, so Go's
// default (2x) has it collect every few batches, which took a quarter of a
// CSV reader's CPU; the limit keeps a plugin with a large live heap (a
// sink buffering a file) from growing fivefold.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// MaxMessageSize bounds one protocol message (one Arrow batch) in bytes.
const MaxMessageSize = 256 << 20

// exitWithParent ends the plugin when the host process is gone, so a plugin
// never outlives a host that was killed without a chance to clean up.
func exitWithParent(logger hclog.Logger) {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			logger.Warn("host process exited; plugin exiting")
			os.Exit(2)
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// server implements the protocol services on top of a Plugin.
type server struct {
	adfv1.UnimplementedPluginServer
	adfv1.UnimplementedSourceServer
	adfv1.UnimplementedSinkServer
	adfv1.UnimplementedTransformServer
	adfv1.UnimplementedRuntimeServer
	p   *Plugin
	log hclog.Logger
}

func (s *server) Describe(context.Context, *adfv1.Describe_Request) (*adfv1.Describe_Response, error) {
	return &adfv1.Describe_Response{Manifest: s.p.manifest()}, nil
}

func (s *server) ValidateConfig(ctx context.Context, req *adfv1.ValidateConfig_Request) (resp *adfv1.ValidateConfig_Response, err error) {
	defer recoverInto(&err)
	_, cfg, cerr := s.p.config(KindFromProto(req.Kind), req.Type, req.Config)
	out := Diagnostics(cerr)
	if c, ok := cfg.(Checker); ok && cerr == nil {
		out = append(out, Warnings(c.Check(ctx))...)
	}
	return &adfv1.ValidateConfig_Response{Diagnostics: out}, nil
}

// Warnings converts errors into protocol diagnostics of severity warning.
func Warnings(ws []*Error) []*adfv1.Diagnostic {
	out := make([]*adfv1.Diagnostic, 0, len(ws))
	for _, w := range ws {
		d := Diagnostics(w)[0]
		d.Severity = adfv1.Diagnostic_SEVERITY_WARNING
		out = append(out, d)
	}
	return out
}

// WarningsFromDiagnostics returns the warnings among ds.
func WarningsFromDiagnostics(ds []*adfv1.Diagnostic) []*Error {
	var out []*Error
	for _, d := range ds {
		if d.GetSeverity() == adfv1.Diagnostic_SEVERITY_WARNING {
			out = append(out, ErrorFromDiagnostic(d))
		}
	}
	return out
}

// recoverInto turns a panic in plugin code into an internal error, so a bug
// in one component never crashes the stream without an explanation.
func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = &Error{Code: CodeInternal, Summary: fmt.Sprintf("plugin panic: %v", r), Detail: string(debug.Stack())}
	}
}

// Diagnostics converts an error into protocol diagnostics.
func Diagnostics(err error) []*adfv1.Diagnostic {
	var out []*adfv1.Diagnostic
	for _, e := range AsErrors(err) {
		out = append(out, &adfv1.Diagnostic{
			Severity:  adfv1.Diagnostic_SEVERITY_ERROR,
			Code:      e.Code,
			Summary:   e.Summary,
			Detail:    e.Detail,
			FieldPath: e.Field,
			Transient: e.Transient,
		})
	}
	return out
}

// ErrorFromDiagnostics converts protocol diagnostics back into an error
// (ConfigErrors when there are several), nil when there are none.
func ErrorFromDiagnostics(ds []*adfv1.Diagnostic) error {
	var out ConfigErrors
	for _, d := range ds {
		if d.GetSeverity() == adfv1.Diagnostic_SEVERITY_WARNING {
			continue
		}
		out = append(out, ErrorFromDiagnostic(d))
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

// ErrorFromDiagnostic converts one diagnostic into an *Error.
func ErrorFromDiagnostic(d *adfv1.Diagnostic) *Error {
	return &Error{Code: d.GetCode(), Summary: d.GetSummary(), Detail: d.GetDetail(), Field: d.GetFieldPath(), Transient: d.GetTransient()}
}

// EncodeSplit turns a split into its protocol form (with its size when it is
// a SizedSplit).
func EncodeSplit(s Split) (*adfv1.Split, error) {
	var data []byte
	var err error
	if m, ok := s.(encoding.BinaryMarshaler); ok {
		data, err = m.MarshalBinary()
	} else {
		data, err = json.Marshal(s)
	}
	if err != nil {
		return nil, fmt.Errorf("encode split %q: %w", s.SplitID(), err)
	}
	p := &adfv1.Split{Id: s.SplitID(), Data: data}
	if sz, ok := s.(SizedSplit); ok {
		p.SizeBytes = max(sz.SizeBytes(), 0)
	}
	return p, nil
}

func encodeSplits(ss []Split) ([]*adfv1.Split, error) {
	out := make([]*adfv1.Split, 0, len(ss))
	for _, s := range ss {
		p, err := EncodeSplit(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func decodeSplits(src Source, ps []*adfv1.Split) ([]Split, error) {
	out := make([]Split, 0, len(ps))
	for _, p := range ps {
		s, err := src.DecodeSplit(p.Id, p.Data)
		if err != nil {
			return nil, fmt.Errorf("decode split %q: %w", p.Id, err)
		}
		out = append(out, s)
	}
	return out, nil
}

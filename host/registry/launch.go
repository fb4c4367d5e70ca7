package registry

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
)

// Instance is one running plugin process.
type Instance struct {
	client *plugin.Client
	conn   *grpc.ClientConn
	pid    int
}

// Launch starts a new process of the plugin that provides e.
func (r *Registry) Launch(ctx context.Context, e Entry) (*Instance, error) {
	if e.Builtin() {
		return nil, fmt.Errorf("%s %q is built into the host and has no plugin process", e.Kind, e.Type)
	}
	return launch(ctx, e.Plugin.Path, r.log)
}

// passEnv are the host variables a plugin process inherits; everything else
// (credentials of the host, tokens) stays out of its environment.
var passEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "ADF_LOG_LEVEL", "ADF_DATA_DIR"}

func launch(ctx context.Context, path string, log hclog.Logger) (*Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// go-plugin bounds the start with StartTimeout; the process must not be
	// tied to ctx, which may end before the plugin is done with (Kill ends
	// it).
	cmd := exec.Command(path)
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	// The kernel kills the plugin when the host dies, even by SIGKILL; the
	// SDK also watches its parent as a second line of defence.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		Plugins:          plugin.PluginSet{sdk.PluginSetName: &sdk.GRPCPlugin{}},
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           log.Named("plugin"),
		StartTimeout:     15 * time.Second,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageSize), grpc.MaxCallSendMsgSize(sdk.MaxMessageSize))},
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start plugin %s: %w", path, err)
	}
	raw, err := rpc.Dispense(sdk.PluginSetName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start plugin %s: %w", path, err)
	}
	conn, ok := raw.(*grpc.ClientConn)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("start plugin %s: unexpected client %T", path, raw)
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	return &Instance{client: client, conn: conn, pid: pid}, nil
}

// Pid of the plugin process.
func (i *Instance) Pid() int { return i.pid }

// Exited reports whether the process has ended.
func (i *Instance) Exited() bool { return i.client.Exited() }

// Kill stops the process (gracefully, then by force) and waits for it.
func (i *Instance) Kill() { i.client.Kill() }

// Plugin is the manifest service.
func (i *Instance) Plugin() adfv1.PluginClient { return adfv1.NewPluginClient(i.conn) }

// Source is the source service.
func (i *Instance) Source() adfv1.SourceClient { return adfv1.NewSourceClient(i.conn) }

// Sink is the sink service.
func (i *Instance) Sink() adfv1.SinkClient { return adfv1.NewSinkClient(i.conn) }

// Transform is the transform service.
func (i *Instance) Transform() adfv1.TransformClient { return adfv1.NewTransformClient(i.conn) }

// Runtime is the runtime service.
func (i *Instance) Runtime() adfv1.RuntimeClient { return adfv1.NewRuntimeClient(i.conn) }

package registry

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"sync"
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
	// log is the process's logger: its lines, and the host's about it.
	log *taggedLogger
}

// Deadlines of a plugin process's life. A plugin that does not complete
// its handshake within startTimeout is killed; one that does not exit
// within killGrace of being told to is killed with its process group; and
// when something else still holds its output pipes after that, the host
// stops waiting for them rather than hang (the process is gone either way).
const (
	startTimeout = 10 * time.Second
	killGrace    = 3 * time.Second
	pipeGrace    = 2 * time.Second
)

// Launch starts a process of the plugin that provides e (or hands over one
// that has just validated a config and is idle, see CheckConfig). The binary
// must still be trusted as at the scan: its directory and file writable by
// their owner only, owned by this user or root, and, under a plugins.lock,
// still of the locked checksum (go-plugin verifies it before it runs the
// file). A refusal is a CodePermissionDenied sdk.Error: not retryable.
func (r *Registry) Launch(ctx context.Context, e Entry) (*Instance, error) {
	if e.Builtin() {
		return nil, fmt.Errorf("%s %q is built into the host and has no plugin process", e.Kind, e.Type)
	}
	if err := r.checkDir(); err != nil {
		return nil, err
	}
	if err := checkTrusted("plugin binary", e.Plugin.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	inst := r.parking.take(e.Plugin.Path)
	if inst == nil {
		var err error
		if inst, err = launch(ctx, e.Plugin.Path, r.log, e.Plugin.pin); err != nil {
			return nil, err
		}
	}
	// From here on the process's log lines name what it works for: the
	// context's fields (flow, run: WithLogFields) and its component. A kept
	// process gets them now, not those of the validation it was started for.
	inst.log.setFields(append(append([]any(nil), LogFields(ctx)...), "component", string(e.Kind)+":"+e.Type))
	return inst, nil
}

// passEnv are the host variables a plugin process inherits; everything else
// (credentials of the host, tokens) stays out of its environment.
var passEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "ADF_LOG_LEVEL", "ADF_DATA_DIR", sdk.ProfileDirEnv,
	"GOGC", "GOMEMLIMIT"}

// launch starts the binary at path; with p, only if its checksum is p's.
func launch(ctx context.Context, path string, log hclog.Logger, p *pin) (*Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		// Retrying cannot bring a removed binary back.
		return nil, &sdk.Error{Code: sdk.CodeNotFound, Err: err,
			Summary: fmt.Sprintf("plugin binary %s is gone (it was there when the plugins directory was read)", path),
			Detail:  "reinstall the plugin (scripts/build-plugins.sh builds the bundled ones) and run the flow again"}
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
	var secure *plugin.SecureConfig
	if p != nil {
		secure = &plugin.SecureConfig{Checksum: p.sum(), Hash: sha256.New()}
	}
	// go-plugin relays the process's stderr into this logger: the SDK's
	// JSON lines keep their level and fields; other lines are logged at
	// debug (or error, for a panic).
	plog := newTaggedLogger(log.Named("plugin"), LogFields(ctx))
	client := plugin.NewClient(&plugin.ClientConfig{
		SecureConfig:     secure,
		HandshakeConfig:  sdk.Handshake(),
		Plugins:          plugin.PluginSet{sdk.PluginSetName: &sdk.GRPCPlugin{}},
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           plog,
		StartTimeout:     startTimeout,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageSize), grpc.MaxCallSendMsgSize(sdk.MaxMessageSize))},
	})
	inst := &Instance{client: client, log: plog}
	started := make(chan error, 1)
	go func() {
		rpc, err := client.Client()
		if err == nil {
			var raw any
			if raw, err = rpc.Dispense(sdk.PluginSetName); err == nil {
				var ok bool
				if inst.conn, ok = raw.(*grpc.ClientConn); !ok {
					err = fmt.Errorf("unexpected client %T", raw)
				}
			}
		}
		started <- err
	}()
	var err error
	select {
	case err = <-started:
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	if cmd.Process != nil {
		inst.pid = cmd.Process.Pid
	}
	if err != nil {
		// A plugin that failed its handshake gets no graceful stop.
		inst.killGroup()
		inst.Kill()
		if p != nil && errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, p.mismatch(path)
		}
		return nil, fmt.Errorf("start plugin %s: %w (a plugin must be built with the ADF SDK and answer its handshake within %s)", path, err, startTimeout)
	}
	return inst, nil
}

// killGroup sends SIGKILL to the plugin's process group (the plugin runs
// as its group's leader), so processes it started die with it and release
// the output pipes the host reads.
func (i *Instance) killGroup() {
	if i.pid > 0 {
		_ = syscall.Kill(-i.pid, syscall.SIGKILL)
	}
}

// Pid of the plugin process.
func (i *Instance) Pid() int { return i.pid }

// Exited reports whether the process has ended.
func (i *Instance) Exited() bool { return i.client.Exited() }

// Kill stops the process (gracefully, then by force, with its process
// group) and waits for it, for a bounded time: it returns even when a
// process that escaped the group still holds the plugin's output pipes.
func (i *Instance) Kill() {
	done := make(chan struct{})
	go func() { i.client.Kill(); close(done) }()
	select {
	case <-done:
		i.killGroup()
		return
	case <-time.After(killGrace):
	}
	i.killGroup()
	select {
	case <-done:
	case <-time.After(pipeGrace):
		i.log.Warn("plugin process killed, but another process still holds its output pipes; no longer waiting for them", "pid", i.pid)
	}
}

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

// forEachPath calls fn for every path, four at a time (starting plugin
// processes is what the calls do: more would only compete for the cores),
// and returns when all calls have.
func forEachPath(paths []string, fn func(i int, path string)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fn(i, p)
		}()
	}
	wg.Wait()
}

package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/redact"
	"github.com/activedataflow/adf/host/registry"
	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// PluginRun says how RunOnPlugin treats a run's job.
type PluginRun struct {
	// JobID is the job an earlier attempt of the run submitted: it is
	// followed instead of submitting another.
	JobID string
	// Submitted records a new job's id before it is followed.
	Submitted func(jobID string) error
	// Detach, when it closes, stops following the job and leaves it running
	// (RunOnPlugin then returns ErrDetached): the host is stopping, and the
	// host that resumes the run follows the job again.
	Detach <-chan struct{}
	// Progress, when set, gets the counts the runtime reports for the job
	// at every status poll.
	Progress func(engine.Stats)
}

// ErrDetached is returned when PluginRun.Detach stopped the following of a
// job that goes on.
var ErrDetached = errors.New("stopped following the runtime's job, which goes on")

// RunOnPlugin runs a flow on a runtime plugin (flink, ...): validate, submit
// (or take up the job of an earlier attempt), then follow the job's status
// every second until it ends. When ctx ends first, the job is cancelled.
// adf serve and adf run both use it.
func RunOnPlugin(ctx context.Context, reg *registry.Registry, f *flow.Flow, runID string, pr PluginRun) (engine.Stats, error) {
	ent, err := reg.Lookup(sdk.KindRuntime, f.Runtime.Type)
	if err != nil {
		return engine.Stats{}, err
	}
	inst, err := reg.Launch(ctx, ent)
	if err != nil {
		return engine.Stats{}, sdk.Transient(err)
	}
	defer inst.Kill()
	doc, err := json.Marshal(absolutePaths(f, redact.RegistrySchemas(reg)))
	if err != nil {
		return engine.Stats{}, err
	}
	comps, err := runtimeComponents(reg, f)
	if err != nil {
		return engine.Stats{}, err
	}
	rt := inst.Runtime()
	cfg := []byte(f.Runtime.Config)
	if pr.JobID != "" {
		return followJob(ctx, rt, f, cfg, pr.JobID, pr)
	}
	v, err := rt.Validate(ctx, &adfv1.RuntimeValidate_Request{Type: f.Runtime.Type, Config: cfg, Flow: doc, Components: comps})
	if err != nil {
		return engine.Stats{}, sdk.Transient(fmt.Errorf("runtime %s: %w", f.Runtime.Type, err))
	}
	if err := sdk.ErrorFromDiagnostics(v.Diagnostics); err != nil {
		return engine.Stats{}, fmt.Errorf("runtime %s cannot run flow %s: %w", f.Runtime.Type, f.Name, err)
	}
	sub, err := rt.Submit(ctx, &adfv1.RuntimeSubmit_Request{Type: f.Runtime.Type, Config: cfg, Flow: doc, RunId: runID, Components: comps})
	if err != nil {
		return engine.Stats{}, sdk.Transient(fmt.Errorf("runtime %s: %w", f.Runtime.Type, err))
	}
	if err := sdk.ErrorFromDiagnostics(sub.Diagnostics); err != nil {
		return engine.Stats{}, fmt.Errorf("runtime %s: submit: %w", f.Runtime.Type, err)
	}
	if pr.Submitted != nil {
		if err := pr.Submitted(sub.JobId); err != nil {
			// Unrecorded, a resumed run would submit it again: better no job.
			_, _ = rt.Cancel(context.WithoutCancel(ctx), &adfv1.RuntimeCancel_Request{Type: f.Runtime.Type, Config: cfg, JobId: sub.JobId})
			return engine.Stats{}, sdk.Transient(fmt.Errorf("runtime %s: job %s was cancelled: %w", f.Runtime.Type, sub.JobId, err))
		}
	}
	return followJob(ctx, rt, f, cfg, sub.JobId, pr)
}

// followJob polls a submitted job's status every second until it ends. A
// job that failed or was cancelled on the runtime fails the run for good:
// the runtime already restarted it as the flow's retry settings say (and a
// new attempt would submit a second job). A status that cannot be read is
// asked again until the flow's retry deadline has passed since the last
// answer; the job is then cancelled and the run fails for good too (a new
// job of the same run could publish again what the cancelled one had
// committed). When ctx ends first, the job is cancelled.
func followJob(ctx context.Context, rt adfv1.RuntimeClient, f *flow.Flow, cfg []byte, jobID string, pr PluginRun) (engine.Stats, error) {
	deadline := flow.DefaultRetryDeadline
	if f.RetryDeadline != nil {
		deadline = time.Duration(*f.RetryDeadline)
	}
	cancelJob := func() {
		_, _ = rt.Cancel(context.WithoutCancel(ctx), &adfv1.RuntimeCancel_Request{Type: f.Runtime.Type, Config: cfg, JobId: jobID})
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var stats engine.Stats
	answered := time.Now()
	for {
		select {
		case <-ctx.Done():
			cancelJob()
			return stats, ctx.Err()
		case <-pr.Detach:
			return stats, ErrDetached
		case <-tick.C:
		}
		st, err := rt.Status(ctx, &adfv1.RuntimeStatus_Request{Type: f.Runtime.Type, Config: cfg, JobId: jobID})
		if err == nil {
			err = sdk.ErrorFromDiagnostics(st.Diagnostics)
		}
		if err != nil {
			if engine.Retryable(err) && time.Since(answered) < deadline && ctx.Err() == nil {
				continue
			}
			cancelJob()
			return stats, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("runtime %s: no status of job %s for %s; the job was cancelled", f.Runtime.Type, jobID, time.Since(answered).Round(time.Second)),
				Detail: "check that the runtime is reachable from the host; the flow's retry_deadline bounds the wait", Err: err}
		}
		answered = time.Now()
		stats = engine.Stats{RowsRead: st.RecordsRead, RowsWritten: st.RecordsWritten, RowsRejected: st.RecordsRejected}
		if pr.Progress != nil {
			pr.Progress(stats)
		}
		switch st.State {
		case "success":
			return stats, nil
		case "failed", "cancelled":
			return stats, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("runtime %s: job %s %s: %s", f.Runtime.Type, jobID, st.State, st.Message),
				Detail: "the runtime restarted the job as the flow's max_restarts and retry_deadline allow; fix the cause and run the flow again"}
		}
	}
}

// absolutePaths returns a copy of f in which every relative file path its
// components' configs name (the fields their schemas annotate as paths) is
// made absolute against the host's working directory: a runtime runs the
// flow in other processes, whose working directory is not the host's.
func absolutePaths(f *flow.Flow, schema redact.Schemas) *flow.Flow {
	g := *f
	abs := func(kind sdk.Kind, c flow.Component) flow.Component {
		c.Config = sdk.RewriteAnnotated(schema(kind, c.Type), c.Config, func(af sdk.AnnotatedField) (string, bool) {
			if !af.Path || af.Value == "" || strings.Contains(af.Value, "://") || filepath.IsAbs(af.Value) {
				return "", false
			}
			p, err := filepath.Abs(af.Value)
			return p, err == nil
		})
		return c
	}
	g.Source = abs(sdk.KindSource, f.Source)
	g.Transforms = make([]flow.Component, len(f.Transforms))
	for i, t := range f.Transforms {
		g.Transforms[i] = abs(sdk.KindTransform, t)
	}
	g.Sink = abs(sdk.KindSink, f.Sink)
	if f.Runtime != nil {
		rt := abs(sdk.KindRuntime, *f.Runtime)
		g.Runtime = &rt
	}
	return &g
}

// TransformsExecutable is the executable that serves the host's built-in
// transforms over the plugin protocol, for runtimes that run a flow outside
// the host. It is looked for beside the adf executable, then in the plugins
// directory.
const TransformsExecutable = "adf-transforms"

// runtimeComponents resolves the flow's source, transforms and sink to the
// executables that serve them, for a runtime that ships them elsewhere.
func runtimeComponents(reg *registry.Registry, f *flow.Flow) ([]*adfv1.RuntimeComponent, error) {
	var out []sdk.RuntimeComponent
	add := func(kind sdk.Kind, typ string, index int) error {
		ent, err := reg.Lookup(kind, typ)
		if err != nil {
			return err
		}
		c := sdk.RuntimeComponent{Kind: kind, Type: typ, Index: index, Plugin: ent.Plugin.Name}
		if ent.Builtin() {
			c.Executable = builtinTransforms(reg.Dir())
		} else {
			c.Executable = ent.Plugin.Path
		}
		out = append(out, c)
		return nil
	}
	if err := add(sdk.KindSource, f.Source.Type, 0); err != nil {
		return nil, err
	}
	for i, t := range f.Transforms {
		if err := add(sdk.KindTransform, t.Type, i); err != nil {
			return nil, err
		}
	}
	if err := add(sdk.KindSink, f.Sink.Type, 0); err != nil {
		return nil, err
	}
	return sdk.RuntimeComponentsToProto(out), nil
}

// builtinTransforms finds the adf-transforms executable: beside the running
// adf executable, else in the plugins directory. It returns the path it
// expects even when the file is missing, so that the runtime's Validate
// names what is missing and where.
func builtinTransforms(pluginDir string) string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), TransformsExecutable)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, _ := filepath.Abs(filepath.Join(pluginDir, TransformsExecutable))
	return p
}

// hclogHandler sends River's slog records to hclog. River's info messages
// (its producers' periodic job counts, elections, starts and stops) are
// routine chatter for ADF's operators: they go out at debug level; its
// warnings and errors keep theirs.
type hclogHandler struct{ l hclog.Logger }

func (h hclogHandler) Enabled(_ context.Context, lvl slog.Level) bool {
	switch {
	case lvl >= slog.LevelError:
		return h.l.IsError()
	case lvl >= slog.LevelWarn:
		return h.l.IsWarn()
	}
	return h.l.IsDebug()
}

func (h hclogHandler) Handle(_ context.Context, r slog.Record) error {
	args := make([]any, 0, 2*r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		args = append(args, a.Key, a.Value.Any())
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		h.l.Error(r.Message, args...)
	case r.Level >= slog.LevelWarn:
		h.l.Warn(r.Message, args...)
	default:
		h.l.Debug(r.Message, args...)
	}
	return nil
}

func (h hclogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	args := make([]any, 0, 2*len(attrs))
	for _, a := range attrs {
		args = append(args, a.Key, a.Value.Any())
	}
	return hclogHandler{h.l.With(args...)}
}

func (h hclogHandler) WithGroup(name string) slog.Handler { return hclogHandler{h.l.Named(name)} }

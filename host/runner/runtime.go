package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/registry"
	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// runOnPlugin runs a flow on a runtime plugin (flink, ...): validate, submit,
// then follow the job's status until it ends.
func runOnPlugin(ctx context.Context, reg *registry.Registry, f *flow.Flow, runID int64) (engine.Stats, error) {
	ent, err := reg.Lookup(sdk.KindRuntime, f.Runtime.Type)
	if err != nil {
		return engine.Stats{}, err
	}
	inst, err := reg.Launch(ctx, ent)
	if err != nil {
		return engine.Stats{}, sdk.Transient(err)
	}
	defer inst.Kill()
	doc, err := json.Marshal(f)
	if err != nil {
		return engine.Stats{}, err
	}
	rt := inst.Runtime()
	cfg := []byte(f.Runtime.Config)
	v, err := rt.Validate(ctx, &adfv1.RuntimeValidate_Request{Type: f.Runtime.Type, Config: cfg, Flow: doc})
	if err != nil {
		return engine.Stats{}, sdk.Transient(fmt.Errorf("runtime %s: %w", f.Runtime.Type, err))
	}
	if err := sdk.ErrorFromDiagnostics(v.Diagnostics); err != nil {
		return engine.Stats{}, fmt.Errorf("runtime %s cannot run flow %s: %w", f.Runtime.Type, f.Name, err)
	}
	sub, err := rt.Submit(ctx, &adfv1.RuntimeSubmit_Request{Type: f.Runtime.Type, Config: cfg, Flow: doc, RunId: strconv.FormatInt(runID, 10)})
	if err != nil {
		return engine.Stats{}, sdk.Transient(fmt.Errorf("runtime %s: %w", f.Runtime.Type, err))
	}
	if err := sdk.ErrorFromDiagnostics(sub.Diagnostics); err != nil {
		return engine.Stats{}, fmt.Errorf("runtime %s: submit: %w", f.Runtime.Type, err)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_, _ = rt.Cancel(context.WithoutCancel(ctx), &adfv1.RuntimeCancel_Request{Type: f.Runtime.Type, Config: cfg, JobId: sub.JobId})
			return engine.Stats{}, ctx.Err()
		case <-tick.C:
		}
		st, err := rt.Status(ctx, &adfv1.RuntimeStatus_Request{Type: f.Runtime.Type, Config: cfg, JobId: sub.JobId})
		if err != nil {
			return engine.Stats{}, sdk.Transient(fmt.Errorf("runtime %s: status of job %s: %w", f.Runtime.Type, sub.JobId, err))
		}
		if err := sdk.ErrorFromDiagnostics(st.Diagnostics); err != nil {
			return engine.Stats{}, fmt.Errorf("runtime %s: job %s: %w", f.Runtime.Type, sub.JobId, err)
		}
		stats := engine.Stats{RowsRead: st.RecordsRead, RowsWritten: st.RecordsWritten}
		switch st.State {
		case "success":
			return stats, nil
		case "failed", "cancelled":
			return stats, fmt.Errorf("runtime %s: job %s %s: %s", f.Runtime.Type, sub.JobId, st.State, st.Message)
		}
	}
}

// hclogHandler sends River's slog records to hclog.
type hclogHandler struct{ l hclog.Logger }

func (h hclogHandler) Enabled(_ context.Context, lvl slog.Level) bool {
	switch {
	case lvl >= slog.LevelError:
		return h.l.IsError()
	case lvl >= slog.LevelWarn:
		return h.l.IsWarn()
	case lvl >= slog.LevelInfo:
		return h.l.IsInfo()
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
	case r.Level >= slog.LevelInfo:
		h.l.Info(r.Message, args...)
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

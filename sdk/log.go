package sdk

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/hashicorp/go-hclog"
)

// NewLogger returns a logger for a plugin's own log lines, named
// "plugin.<name>": hclog JSON on stderr at the level of ADF_LOG_LEVEL (the
// host's --log-level; info when unset). The host's go-plugin client parses
// these lines, so they reach the host's log with their level and fields,
// tagged by the host with the flow, the run and the component the process
// works for, in the host's format (--log-format). Text written to stderr
// any other way arrives as an untagged-level debug line.
func NewLogger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "plugin." + name,
		Level:      hclog.LevelFromString(envOr("ADF_LOG_LEVEL", "info")),
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// captureStandardLogs sends what libraries log with the standard library's
// log and log/slog packages through logger, so that their lines are JSON
// with a level (inferred from a [WARN]/[ERROR]-style prefix for log; slog's
// own for slog) rather than bare text the host can only log at debug.
func captureStandardLogs(logger hclog.Logger) {
	w := logger.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	log.SetOutput(w)
	log.SetFlags(0)
	slog.SetDefault(slog.New(&hclogHandler{log: logger}))
}

// hclogHandler is a slog.Handler writing to an hclog.Logger.
type hclogHandler struct {
	log   hclog.Logger
	group string
}

// Enabled implements slog.Handler.
func (h *hclogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return hclogLevel(l) >= h.log.GetLevel()
}

// Handle implements slog.Handler.
func (h *hclogHandler) Handle(_ context.Context, r slog.Record) error {
	args := make([]any, 0, 2*r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		args = append(args, h.group+a.Key, a.Value.Resolve().Any())
		return true
	})
	h.log.Log(hclogLevel(r.Level), r.Message, args...)
	return nil
}

// WithAttrs implements slog.Handler.
func (h *hclogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	args := make([]any, 0, 2*len(attrs))
	for _, a := range attrs {
		args = append(args, h.group+a.Key, a.Value.Resolve().Any())
	}
	return &hclogHandler{log: h.log.With(args...), group: h.group}
}

// WithGroup implements slog.Handler: the group prefixes the keys.
func (h *hclogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &hclogHandler{log: h.log, group: h.group + name + "."}
}

func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}

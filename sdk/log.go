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
// works for, in the host's format (--log-format). It may be called at any
// time, also after Serve started. (What a plugin writes to os.Stderr
// itself after Serve started does not reach the host.)
func NewLogger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "plugin." + name,
		Level:      hclog.LevelFromString(envOr("ADF_LOG_LEVEL", "info")),
		Output:     processStderr,
		JSONFormat: true,
	})
}

// processStderr is the process's standard error as it was when the plugin
// started. go-plugin's Serve points os.Stderr at a pipe of its own, whose
// lines the host discards; go-plugin relays only the lines written to the
// real standard error into the host's log.
var processStderr = os.Stderr

// captureStandardLogs sends what libraries log with the standard library's
// log and log/slog packages through logger, so that their lines are JSON
// with a level (inferred from a [WARN]/[ERROR]-style prefix for log; slog's
// own for slog) rather than bare text the host can only log at debug.
func captureStandardLogs(logger hclog.Logger) {
	// slog.SetDefault points the log package at the slog handler (at info,
	// whatever the line says); setting log's output afterwards keeps the
	// levels its lines name.
	slog.SetDefault(slog.New(&hclogHandler{log: logger}))
	log.SetOutput(logger.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}))
	log.SetFlags(0)
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

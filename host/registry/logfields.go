package registry

import (
	"context"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// logFieldsKey is the context key of WithLogFields.
type logFieldsKey struct{}

// WithLogFields returns a context whose plugin launches (Launch) tag every
// log line of the plugin process with kv, pairs of a key and a value, as
// hclog takes them: the flow and the run a process works for, so that the
// lines of many runs in one host's log can be told apart:
//
//	ctx = registry.WithLogFields(ctx, "flow", f.Name, "run", runID)
//
// Fields of an outer context come first; a later key does not replace an
// earlier one.
func WithLogFields(ctx context.Context, kv ...any) context.Context {
	if len(kv)%2 != 0 {
		kv = append(kv, "<missing value>")
	}
	prev := LogFields(ctx)
	fields := make([]any, 0, len(prev)+len(kv))
	fields = append(append(fields, prev...), kv...)
	return context.WithValue(ctx, logFieldsKey{}, fields)
}

// LogFields are the fields WithLogFields put in ctx.
func LogFields(ctx context.Context) []any {
	fields, _ := ctx.Value(logFieldsKey{}).([]any)
	return fields
}

// taggedLogger is the logger go-plugin gets for a plugin process: the
// host's, with fields that may change while the process lives. go-plugin
// takes its logger once, when the process starts, but a process kept after
// validating a config (see parking) is handed to a run that started later:
// Launch then sets that run's fields.
type taggedLogger struct {
	hclog.Logger
	fields *atomic.Pointer[[]any]
}

func newTaggedLogger(base hclog.Logger, fields []any) *taggedLogger {
	l := &taggedLogger{Logger: base, fields: &atomic.Pointer[[]any]{}}
	l.setFields(fields)
	return l
}

// setFields replaces the fields of every line from now on.
func (l *taggedLogger) setFields(fields []any) {
	f := append([]any(nil), fields...)
	l.fields.Store(&f)
}

// with puts the current fields before args.
func (l *taggedLogger) with(args []any) []any {
	f := *l.fields.Load()
	if len(f) == 0 {
		return args
	}
	return append(append(make([]any, 0, len(f)+len(args)), f...), args...)
}

// Log implements hclog.Logger.
func (l *taggedLogger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, msg, l.with(args)...)
}

// Trace implements hclog.Logger.
func (l *taggedLogger) Trace(msg string, args ...any) { l.Logger.Trace(msg, l.with(args)...) }

// Debug implements hclog.Logger.
func (l *taggedLogger) Debug(msg string, args ...any) { l.Logger.Debug(msg, l.with(args)...) }

// Info implements hclog.Logger.
func (l *taggedLogger) Info(msg string, args ...any) { l.Logger.Info(msg, l.with(args)...) }

// Warn implements hclog.Logger.
func (l *taggedLogger) Warn(msg string, args ...any) { l.Logger.Warn(msg, l.with(args)...) }

// Error implements hclog.Logger.
func (l *taggedLogger) Error(msg string, args ...any) { l.Logger.Error(msg, l.with(args)...) }

// With implements hclog.Logger; the result shares the changeable fields.
func (l *taggedLogger) With(args ...any) hclog.Logger {
	return &taggedLogger{Logger: l.Logger.With(args...), fields: l.fields}
}

// Named implements hclog.Logger (go-plugin names its logger after the
// binary); the result shares the changeable fields.
func (l *taggedLogger) Named(name string) hclog.Logger {
	return &taggedLogger{Logger: l.Logger.Named(name), fields: l.fields}
}

// ResetNamed implements hclog.Logger; the result shares the changeable
// fields.
func (l *taggedLogger) ResetNamed(name string) hclog.Logger {
	return &taggedLogger{Logger: l.Logger.ResetNamed(name), fields: l.fields}
}

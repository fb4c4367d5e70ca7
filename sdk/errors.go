package sdk

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes carried by Error.Code. Plugins may use others; these are the
// ones the host treats specially.
const (
	CodeInvalidConfig = "invalid_config"
	CodeNotFound      = "not_found"
	CodeUnavailable   = "unavailable"
	CodeBadRecord     = "bad_record"
	CodeInternal      = "internal"
	CodeIO            = "io"
)

// Error is a structured error that crosses the plugin boundary intact: the
// host sees the code, the field path and whether a retry may help.
type Error struct {
	// Code classifies the error (CodeInvalidConfig, CodeUnavailable, ...).
	Code string
	// Summary says what happened, to what.
	Summary string
	// Detail says what to do about it.
	Detail string
	// Field is the dot-separated config path the error is about, if any.
	Field string
	// Transient is true when retrying may succeed (connection lost, timeout).
	Transient bool
	// Err is the wrapped cause, if any (not sent across the boundary except
	// through Summary).
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Summary)
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ConfigError reports a bad config field.
func ConfigError(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidConfig, Field: field, Summary: fmt.Sprintf(format, args...)}
}

// Transient marks err as retryable: the host restarts the attempt from the
// last checkpoint instead of failing the run.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Transient = true
		return &c
	}
	return &Error{Code: CodeUnavailable, Summary: err.Error(), Transient: true, Err: err}
}

// ConfigErrors is a list of config errors reported together, so a user fixes
// every bad field in one go.
type ConfigErrors []*Error

// Error implements error.
func (es ConfigErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// AsErrors flattens err into structured errors: ConfigErrors into its items, an
// *Error as itself, anything else as an internal error.
func AsErrors(err error) []*Error {
	if err == nil {
		return nil
	}
	var list ConfigErrors
	if errors.As(err, &list) {
		return list
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return []*Error{{Code: CodeInternal, Summary: err.Error(), Err: err}}
}

package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// Error codes carried by Error.Code. The code, not the message, decides what
// the host does with an error (see Retryable): the first group fails a run at
// once, CodeUnavailable is retried with backoff until the run's retry
// deadline, and the rest are retried only when marked Transient. Plugins may
// use other codes; the host treats them like CodeInternal.
const (
	// CodeInvalidConfig: a config value is wrong; the user must change it.
	CodeInvalidConfig = "invalid_config"
	// CodeUnauthenticated: the credentials were refused (wrong password,
	// unknown user, bad token).
	CodeUnauthenticated = "unauthenticated"
	// CodePermissionDenied: the credentials were accepted but may not do
	// this (no privilege on a table, a file not readable).
	CodePermissionDenied = "permission_denied"
	// CodeNotFound: something the flow names does not exist (an input file,
	// a table, a database, a catalog).
	CodeNotFound = "not_found"
	// CodeBadRecord: a record cannot be read or written as it is.
	CodeBadRecord = "bad_record"
	// CodeDeadlineExceeded: the run took longer than its timeout; running
	// it again would take as long.
	CodeDeadlineExceeded = "deadline_exceeded"

	// CodeUnavailable: a system could not be reached or dropped the
	// connection; retrying may succeed.
	CodeUnavailable = "unavailable"
	// CodeIO: reading or writing failed (disk full, short read).
	CodeIO = "io"
	// CodeInternal: a bug or an unexpected state.
	CodeInternal = "internal"
)

// Retryable says whether retrying the operation may succeed. The code
// decides: configuration, authentication, permission, not-found,
// bad-record and deadline-exceeded errors never are, even when marked
// Transient, because the same attempt fails the same way; CodeUnavailable
// always is; any other code is when the plugin marked it Transient.
func (e *Error) Retryable() bool {
	switch e.Code {
	case CodeInvalidConfig, CodeUnauthenticated, CodePermissionDenied, CodeNotFound, CodeBadRecord, CodeDeadlineExceeded:
		return false
	case CodeUnavailable:
		return true
	}
	return e.Transient
}

// Unreachable returns a CodeUnavailable error for a system that could not be
// reached: what names it ("PostgreSQL at db:5432"), check says what to look
// at. The host retries it with backoff until the run's retry deadline.
func Unreachable(what, check string, err error) *Error {
	return &Error{Code: CodeUnavailable, Summary: fmt.Sprintf("cannot reach %s: %v", what, err), Detail: check, Transient: true, Err: err}
}

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

// IsUnreachable says whether err is a network failure that retrying may get
// past: a refused, reset or timed-out connection, an unreachable host or
// network, a name that did not resolve, a connection closed under a call.
// Plugins classify such errors as CodeUnavailable (see Unreachable); it
// decides by the error's type and errno, never by its text. A cancelled
// context is not unreachable: the caller stopped.
func IsUnreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, context.DeadlineExceeded,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ETIMEDOUT} {
		if errors.Is(err, target) {
			return true
		}
	}
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns)
}

package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activedataflow/adf/sdk"
)

// logger writes to stderr, which go-plugin forwards to the host's log.
var logger = hclog.New(&hclog.LoggerOptions{Name: "sql", Output: os.Stderr, JSONFormat: true, Level: hclog.Info})

// passwordOf returns the password in a PostgreSQL URL or keyword/value
// connection string, "" when there is none.
func passwordOf(connString string) string {
	if u, err := url.Parse(connString); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			return p
		}
	}
	if u, err := url.Parse(connString); err == nil {
		if p := u.Query().Get("password"); p != "" {
			return p
		}
	}
	for _, f := range strings.Fields(connString) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			return strings.Trim(v, "'")
		}
	}
	return ""
}

// redactString replaces every occurrence of the password (and its URL
// escaped form) with xxxxx.
func redactString(s, password string) string {
	if password == "" {
		return s
	}
	s = strings.ReplaceAll(s, password, "xxxxx")
	if esc := url.QueryEscape(password); esc != password {
		s = strings.ReplaceAll(s, esc, "xxxxx")
	}
	if esc := url.PathEscape(password); esc != password {
		s = strings.ReplaceAll(s, esc, "xxxxx")
	}
	return s
}

// RedactURL returns the URL with its password replaced by xxxxx, for logs.
func RedactURL(connString string) string { return redactString(connString, passwordOf(connString)) }

// redactedError is err with the password removed from its message; Unwrap
// still reaches the cause (a *pgconn.PgError for classification).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with the password of connString removed from the
// message.
func redact(err error, connString string) error {
	if err == nil {
		return nil
	}
	pw := passwordOf(connString)
	msg := redactString(err.Error(), pw)
	if pw == "" || msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// isTransient reports whether err may go away on retry: the connection was
// lost or refused, the server is starting or shutting down, a serialization
// failure or deadlock.
func isTransient(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "40001", pg.Code == "40P01": // serialization_failure, deadlock_detected
			return true
		case strings.HasPrefix(pg.Code, "08"): // connection exception
			return true
		case pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03": // admin/crash shutdown, cannot connect now
			return true
		case pg.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		// Authentication failures are not transient; refused or reset
		// connections are.
		var inner *pgconn.PgError
		return !errors.As(ce, &inner) || isTransient(inner)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// The connection broke under a statement: classified by the error's
	// type and errno, never by its text.
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, net.ErrClosed,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	var op *net.OpError
	return errors.As(err, &op)
}

// isRowError reports whether a failed statement is the data's fault (a bad
// value or a violated constraint), so the rows can be isolated and rejected.
func isRowError(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return false
	}
	// 22: data exception; 23: integrity constraint violation.
	return strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "23")
}

// pgMessage is PostgreSQL's error text for a rejected row.
func pgMessage(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		s := fmt.Sprintf("%s (SQLSTATE %s)", pg.Message, pg.Code)
		if pg.Detail != "" {
			s += ": " + pg.Detail
		}
		return s
	}
	return err.Error()
}

// connect opens a pool and checks it with a ping, retrying transient
// failures with exponential backoff for up to timeout. Errors never
// contain the password.
func connect(ctx context.Context, connString string, maxConns int, timeout time.Duration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "url", Summary: redactString(err.Error(), passwordOf(connString)),
			Err: redact(err, connString)}
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 10*time.Second {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	op := func() (*pgxpool.Pool, error) {
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, classify(err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, classify(err)
		}
		return pool, nil
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	pool, err := backoff.Retry(ctx, op, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(timeout),
		backoff.WithNotify(func(err error, d time.Duration) {
			logger.Warn("connect to PostgreSQL failed; retrying", "url", RedactURL(connString), "error", redactString(err.Error(), passwordOf(connString)), "in", d)
		}))
	if err != nil {
		red := redact(err, connString)
		e := &sdk.Error{Code: sdk.CodeUnavailable, Summary: fmt.Sprintf("connect to PostgreSQL at %s: %s", hostOf(connString), red.Error()),
			Detail: "check url, that the server is up and that the user and password are right", Err: red}
		if isTransient(err) {
			e.Transient = true
		}
		return nil, e
	}
	return pool, nil
}

// classify stops the retry loop on errors that retrying cannot fix.
func classify(err error) error {
	if isTransient(err) {
		return err
	}
	return backoff.Permanent(err)
}

func hostOf(connString string) string {
	if u, err := url.Parse(connString); err == nil && u.Host != "" {
		return u.Host + u.Path
	}
	return "the configured server"
}

// ident quotes an identifier.
func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// qualified quotes schema.name (schema may be empty).
func qualified(schema, name string) string {
	if schema == "" {
		return ident(name)
	}
	return pgx.Identifier{schema, name}.Sanitize()
}

// wrapErr turns a PostgreSQL error into an sdk.Error: transient ones are
// marked so the host restarts the attempt from the last checkpoint.
func wrapErr(what string, err error, connString string) error {
	if err == nil {
		return nil
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	red := redact(err, connString)
	e := &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("%s: %s", what, red.Error()), Err: red}
	if isTransient(err) {
		e.Code = sdk.CodeUnavailable
		e.Transient = true
	}
	return e
}

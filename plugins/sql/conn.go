package sql

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activedataflow/adf/sdk"
)

// logger is the plugin's own logger: the SDK's, whose JSON lines reach the
// host's log with their level (ADF_LOG_LEVEL), tagged with the flow, run
// and component.
var logger = sdk.NewLogger("sql")

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

// codeOf classifies a PostgreSQL or connection error by its SQLSTATE, type
// and errno, never by its text. The code decides what the host does:
// CodeUnavailable is retried until the flow's retry_deadline; refused
// credentials, missing databases or tables and bad statements fail the run
// at once.
func codeOf(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "28P01", pg.Code == "28000": // invalid_password, invalid_authorization_specification
			return sdk.CodeUnauthenticated
		case pg.Code == "42501": // insufficient_privilege
			return sdk.CodePermissionDenied
		case pg.Code == "3D000", pg.Code == "3F000", pg.Code == "42P01": // no such database, schema, table
			return sdk.CodeNotFound
		case pg.Code == "40001", pg.Code == "40P01": // serialization_failure, deadlock_detected
			return sdk.CodeUnavailable
		case strings.HasPrefix(pg.Code, "08"): // connection exception
			return sdk.CodeUnavailable
		case pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03": // admin/crash shutdown, cannot connect now
			return sdk.CodeUnavailable
		case pg.Code == "53300": // too_many_connections
			return sdk.CodeUnavailable
		case strings.HasPrefix(pg.Code, "22"), strings.HasPrefix(pg.Code, "23"): // data exception, constraint
			return sdk.CodeBadRecord
		case strings.HasPrefix(pg.Code, "42"): // syntax error or access rule violation: the query or table is wrong
			return sdk.CodeInvalidConfig
		}
		return sdk.CodeIO
	}
	if errors.Is(err, context.Canceled) {
		return sdk.CodeIO
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return sdk.CodeUnavailable
	}
	// The connection could not be made or broke under a statement.
	var ce *pgconn.ConnectError
	if sdk.IsUnreachable(err) || errors.As(err, &ce) {
		return sdk.CodeUnavailable
	}
	return sdk.CodeIO
}

// isTransient reports whether err may go away on retry.
func isTransient(err error) bool { return err != nil && codeOf(err) == sdk.CodeUnavailable }

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

// connect opens a pool and checks it with a ping, once: one attempt may
// take up to timeout. A failure is classified by codeOf; the host retries
// unreachable servers with backoff until the flow's retry_deadline. Errors
// never contain the password.
func connect(ctx context.Context, connString string, maxConns int, timeout time.Duration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "url", Summary: redactString(err.Error(), passwordOf(connString)),
			Err: redact(err, connString)}
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > timeout {
		cfg.ConnConfig.ConnectTimeout = timeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		if err = pool.Ping(ctx); err != nil {
			pool.Close()
		}
	}
	if err != nil {
		return nil, connectError(connString, err)
	}
	return pool, nil
}

// defaultConnectTimeout bounds one connection attempt.
const defaultConnectTimeout = 10 * time.Second

// connectError says why connecting failed and what to check, by code.
func connectError(connString string, err error) *sdk.Error {
	red := redact(err, connString)
	where := hostOf(connString)
	e := &sdk.Error{Code: codeOf(err), Err: red}
	switch e.Code {
	case sdk.CodeUnavailable:
		e.Summary = fmt.Sprintf("cannot reach PostgreSQL at %s: %s", where, red.Error())
		e.Detail = fmt.Sprintf("check that PostgreSQL is running at %s and reachable from this host, and the host and port in url", where)
		e.Transient = true
	case sdk.CodeUnauthenticated:
		e.Summary = fmt.Sprintf("PostgreSQL at %s refused the credentials: %s", where, red.Error())
		e.Detail = "check the user and password in url"
		e.Field = "url"
	case sdk.CodeNotFound:
		e.Summary = fmt.Sprintf("connect to PostgreSQL at %s: %s", where, red.Error())
		e.Detail = "check the database name in url"
		e.Field = "url"
	default:
		e.Summary = fmt.Sprintf("connect to PostgreSQL at %s: %s", where, red.Error())
		e.Detail = "check url and the server's log"
	}
	return e
}

func hostOf(connString string) string {
	if u, err := url.Parse(connString); err == nil && u.Host != "" {
		return u.Host
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

// wrapErr turns a PostgreSQL error into an sdk.Error classified by codeOf:
// unreachable servers are retried by the host from the last checkpoint.
func wrapErr(what string, err error, connString string) error {
	if err == nil {
		return nil
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	red := redact(err, connString)
	e := &sdk.Error{Code: codeOf(err), Summary: fmt.Sprintf("%s: %s", what, red.Error()), Err: red}
	if e.Code == sdk.CodeUnavailable {
		e.Transient = true
		e.Detail = fmt.Sprintf("check that PostgreSQL is running at %s and reachable from this host", hostOf(connString))
	}
	return e
}

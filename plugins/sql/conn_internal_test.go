package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/activedataflow/adf/sdk"
)

// codeOf classifies by SQLSTATE and by the error's type and errno, never by
// its text.
func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"admin shutdown", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}, sdk.CodeUnavailable},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, sdk.CodeUnavailable},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, sdk.CodeUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, sdk.CodeUnavailable},
		{"serialization failure", fmt.Errorf("write: %w", &pgconn.PgError{Code: "40001"}), sdk.CodeUnavailable},
		{"wrong password", &pgconn.PgError{Code: "28P01", Message: "connection refused"}, sdk.CodeUnauthenticated},
		{"no such role", &pgconn.PgError{Code: "28000"}, sdk.CodeUnauthenticated},
		{"no such database", &pgconn.PgError{Code: "3D000"}, sdk.CodeNotFound},
		{"no privilege", &pgconn.PgError{Code: "42501"}, sdk.CodePermissionDenied},
		{"unique violation", &pgconn.PgError{Code: "23505", Message: "connection reset"}, sdk.CodeBadRecord},
		{"undefined table", &pgconn.PgError{Code: "42P01"}, sdk.CodeNotFound},
		{"syntax error", &pgconn.PgError{Code: "42601"}, sdk.CodeInvalidConfig},
		{"disk full", &pgconn.PgError{Code: "53100"}, sdk.CodeIO},
		{"unexpected EOF", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), sdk.CodeUnavailable},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connect: %w", syscall.ECONNREFUSED)}, sdk.CodeUnavailable},
		{"reset by peer", &net.OpError{Op: "read", Net: "tcp", Err: fmt.Errorf("read: %w", syscall.ECONNRESET)}, sdk.CodeUnavailable},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), sdk.CodeUnavailable},
		{"closed connection", fmt.Errorf("read: %w", net.ErrClosed), sdk.CodeUnavailable},
		{"no such host", &net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}, sdk.CodeUnavailable},
		{"canceled", fmt.Errorf("query: %w", context.Canceled), sdk.CodeIO},
		{"text only", errors.New("connection refused"), sdk.CodeIO},
	} {
		if got := codeOf(tc.err); got != tc.want {
			t.Errorf("%s: codeOf(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
	if isTransient(nil) {
		t.Error("isTransient(nil) = true")
	}
}

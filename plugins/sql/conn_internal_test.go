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
)

// isTransient classifies by SQLSTATE and by the error's type and errno,
// never by its text.
func TestIsTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"admin shutdown", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"serialization failure", fmt.Errorf("write: %w", &pgconn.PgError{Code: "40001"}), true},
		{"unique violation", &pgconn.PgError{Code: "23505", Message: "connection reset"}, false},
		{"undefined table", &pgconn.PgError{Code: "42P01"}, false},
		{"unexpected EOF", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"reset by peer", &net.OpError{Op: "read", Net: "tcp", Err: fmt.Errorf("read: %w", syscall.ECONNRESET)}, true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"closed connection", fmt.Errorf("read: %w", net.ErrClosed), true},
		{"canceled", fmt.Errorf("query: %w", context.Canceled), false},
		{"text only", errors.New("connection refused"), false},
		{"nil", nil, false},
	} {
		if got := isTransient(tc.err); got != tc.want {
			t.Errorf("%s: isTransient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

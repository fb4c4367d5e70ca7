package iceberg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/activedataflow/adf/sdk"
)

// SQLite result codes (https://sqlite.org/rescode.html) the plugin tells
// apart; extended codes carry the primary one in their low byte.
const (
	sqlitePerm     = 3
	sqliteBusy     = 5
	sqliteLocked   = 6
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteCantOpen = 14
	sqliteNotADB   = 26
)

// codeOf classifies a catalog or file error by its type, code and errno,
// never by its text: the code decides whether the host retries it.
func codeOf(err error) string {
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case sqliteBusy, sqliteLocked:
			return sdk.CodeUnavailable
		case sqlitePerm, sqliteReadOnly:
			return sdk.CodePermissionDenied
		case sqliteCantOpen:
			return sdk.CodeNotFound
		case sqliteNotADB:
			return sdk.CodeInvalidConfig
		case sqliteIOErr:
			return sdk.CodeIO
		}
		return sdk.CodeInvalidConfig
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "28P01", pg.Code == "28000":
			return sdk.CodeUnauthenticated
		case pg.Code == "42501":
			return sdk.CodePermissionDenied
		case pg.Code == "3D000":
			return sdk.CodeNotFound
		case len(pg.Code) == 5 && (pg.Code[:2] == "08" || pg.Code[:2] == "57" || pg.Code[:2] == "40" || pg.Code == "53300"):
			return sdk.CodeUnavailable
		}
		return sdk.CodeIO
	}
	switch {
	case errors.Is(err, rest.ErrUnauthorized):
		return sdk.CodeUnauthenticated
	case errors.Is(err, rest.ErrForbidden):
		return sdk.CodePermissionDenied
	case errors.Is(err, fs.ErrNotExist):
		return sdk.CodeNotFound
	case errors.Is(err, fs.ErrPermission):
		return sdk.CodePermissionDenied
	case errors.Is(err, context.Canceled):
		return sdk.CodeIO
	}
	var ce *pgconn.ConnectError
	if sdk.IsUnreachable(err) || errors.As(err, &ce) {
		return sdk.CodeUnavailable
	}
	return sdk.CodeIO
}

// catalogErr is a failed catalog or storage operation, classified by
// codeOf. what says what failed, to what. Other I/O failures are marked
// transient: an attempt from the last checkpoint may get past them.
func catalogErr(what string, err error) error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	e := &sdk.Error{Code: codeOf(err), Summary: fmt.Sprintf("%s: %v", what, err), Err: err}
	switch e.Code {
	case sdk.CodeUnavailable:
		e.Transient = true
		e.Detail = "check that the catalog (catalog_uri) and the warehouse are reachable from this host"
	case sdk.CodeUnauthenticated:
		e.Detail = "check the credentials in catalog_uri or properties (credential, token)"
	case sdk.CodeNotFound:
		e.Detail = "check catalog_uri: for SQLite, that the catalog file's directory exists"
	case sdk.CodeIO:
		e.Transient = true
	}
	return e
}

package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/activedataflow/adf/plugins/file/format"
	"github.com/activedataflow/adf/sdk"
)

// fileErrorCode classifies a file system error: a missing file or
// directory is not_found, a refused one permission_denied, anything else
// io.
func fileErrorCode(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sdk.CodeNotFound
	case errors.Is(err, fs.ErrPermission):
		return sdk.CodePermissionDenied
	}
	return sdk.CodeIO
}

// fileError is an sdk.Error classified by fileErrorCode, wrapping err; the
// summary is the formatted message and err, detail what to check. A
// not_found or permission_denied error without a detail gets one.
func fileError(err error, detail, format string, args ...any) *sdk.Error {
	msg := fmt.Sprintf(format, args...)
	code := fileErrorCode(err)
	if detail == "" {
		switch code {
		case sdk.CodeNotFound:
			detail = "check the path" + relativeHint()
		case sdk.CodePermissionDenied:
			detail = fmt.Sprintf("check the permissions of the file and of its directories for the user the plugin runs as (uid %d)", os.Getuid())
		}
	}
	return &sdk.Error{Code: code, Summary: msg + ": " + unwrapPath(err).Error(), Detail: detail, Err: fmt.Errorf("%s: %w", msg, err)}
}

// unwrapPath drops the *fs.PathError's operation and path, which the
// summaries already name.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// relativeHint tells where relative paths are resolved.
func relativeHint() string {
	if wd, err := os.Getwd(); err == nil {
		return "; relative paths are resolved against the working directory " + wd
	}
	return ""
}

// readError classifies an error of a format reader or planner: a broken
// JSON array is a bad record, a file system error is classified by
// fileErrorCode, and a schema the reader refuses is a config error.
func readError(err error, msgFormat string, args ...any) *sdk.Error {
	msg := fmt.Sprintf(msgFormat, args...)
	switch {
	case errors.Is(err, format.ErrJSONSyntax):
		return &sdk.Error{Code: sdk.CodeBadRecord, Summary: msg + ": " + err.Error(), Err: fmt.Errorf("%s: %w", msg, err),
			Detail: "the JSON array is malformed at that point; rows before it were read"}
	case errors.Is(err, format.ErrInvalidSchema):
		return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "schema", Summary: msg + ": " + err.Error(), Err: fmt.Errorf("%s: %w", msg, err)}
	}
	return fileError(err, "", msgFormat, args...)
}

// missingInput is the not_found error of a path or glob that matches no
// file, saying which part of it is missing.
func missingInput(path string) *sdk.Error {
	e := &sdk.Error{Code: sdk.CodeNotFound, Field: "path"}
	dir := path
	if hasGlob(path) {
		e.Summary = fmt.Sprintf("no input files match %q", path)
		dir = globDir(path)
	} else {
		e.Summary = fmt.Sprintf("input %s does not exist", path)
		dir = filepath.Dir(path)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		e.Detail = fmt.Sprintf("directory %s does not exist; check the path%s", dir, relativeHint())
	} else {
		e.Detail = fmt.Sprintf("check the path; it may be a file, a directory or a glob such as data/*.csv%s", relativeHint())
	}
	return e
}

// globDir is the longest leading directory of a glob without pattern
// characters.
func globDir(pattern string) string {
	dir := filepath.Dir(pattern)
	for hasGlob(dir) {
		dir = filepath.Dir(dir)
	}
	return dir
}

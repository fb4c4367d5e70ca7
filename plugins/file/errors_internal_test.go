package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/activedataflow/adf/sdk"
)

// TestFileErrorCodes: file system errors get their code from the errno,
// never from the message, and keep it wrapped.
func TestFileErrorCodes(t *testing.T) {
	uid := os.Getuid()
	tests := []struct {
		errno        syscall.Errno
		code, detail string
	}{
		{syscall.ENOENT, sdk.CodeNotFound, "check the path" + relativeHint()},
		{syscall.EACCES, sdk.CodePermissionDenied, fmt.Sprintf("check the permissions of the file and of its directories for the user the plugin runs as (uid %d)", uid)},
		{syscall.EPERM, sdk.CodePermissionDenied, fmt.Sprintf("check the permissions of the file and of its directories for the user the plugin runs as (uid %d)", uid)},
		{syscall.EIO, sdk.CodeIO, ""},
		{syscall.ENOSPC, sdk.CodeIO, ""},
	}
	for _, tc := range tests {
		cause := &fs.PathError{Op: "open", Path: "/data/in.csv", Err: tc.errno}
		e := fileError(fmt.Errorf("wrapped: %w", cause), "", "open input %s", "/data/in.csv")
		if e.Code != tc.code || e.Summary != "open input /data/in.csv: "+tc.errno.Error() || e.Detail != tc.detail || !errors.Is(e, tc.errno) {
			t.Errorf("%v: got %s %q %q", tc.errno, e.Code, e.Summary, e.Detail)
		}
	}
}

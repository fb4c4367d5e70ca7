package registry_test

// Tests of plugin trust at the package level: the plugins.lock format, and
// a binary that changes between the scan and a launch (the adf command's
// tests cover what a user sees at scan time).

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

func TestLockFormat(t *testing.T) {
	a, b := fmt.Sprintf("%064x", 1), fmt.Sprintf("%064x", 2)
	lock := &registry.Lock{Entries: []registry.LockEntry{
		{File: "adf-plugin-a", SHA256: a, Name: "a", Version: "1.0.0"},
		{File: "adf-plugin-b", SHA256: b},
	}}
	data := lock.Marshal()
	got, err := registry.ParseLock(data)
	if err != nil {
		t.Fatalf("ParseLock of its own output: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, lock) {
		t.Errorf("round trip: got %+v, want %+v", got, lock)
	}
	if e, ok := got.Find("adf-plugin-b"); !ok || e.SHA256 != b {
		t.Errorf("Find(adf-plugin-b) = %+v, %v", e, ok)
	}
	if _, ok := got.Find("adf-plugin-c"); ok {
		t.Error("Find of an unlisted binary found it")
	}
	// sha256sum's binary-mode marker is accepted.
	if l, err := registry.ParseLock([]byte(a + " *adf-plugin-a\n")); err != nil || len(l.Entries) != 1 || l.Entries[0].File != "adf-plugin-a" {
		t.Errorf("sha256sum -b line: %+v, %v", l, err)
	}
	for _, c := range []struct{ in, want string }{
		{"# x\n" + a + "\n", fmt.Sprintf("line 2: want <sha256>  <file name>, got %q", a)},
		{"abc  adf-plugin-a\n", `line 1: "abc" is not a SHA-256 in lowercase hex (64 digits)`},
		{fmt.Sprintf("%064X  adf-plugin-a\n", 10), fmt.Sprintf(`line 1: "%064X" is not a SHA-256 in lowercase hex (64 digits)`, 10)},
		{a + "  ../adf-plugin-a\n", `line 1: "../adf-plugin-a" is not a plugin binary's file name (adf-plugin-<name>, no directory)`},
		{a + "  adf-plugin-a\n\n" + b + "  adf-plugin-a\n", "line 3: adf-plugin-a is already listed on line 1"},
	} {
		if _, err := registry.ParseLock([]byte(c.in)); err == nil || err.Error() != c.want {
			t.Errorf("ParseLock(%q): %v, want %s", c.in, err, c.want)
		}
	}
}

// A binary replaced after the scan is refused at launch: go-plugin checks
// the locked checksum before it runs the file, and the error says what
// happened (not retryable: the code is permission_denied).
func TestLaunchRefusesBinaryChangedAfterScan(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "adf-plugin-file")
	data, err := os.ReadFile(testkit.Build(t, testkit.FilePlugin))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, bin, string(data), 0o755)
	lock, problems, err := registry.New(dir, nil).WriteLock(ctx(t))
	if err != nil || len(problems) != 0 || len(lock.Entries) != 1 {
		t.Fatalf("WriteLock: %+v, %v, %v", lock, problems, err)
	}
	want := lock.Entries[0]
	reg := scan(t, dir)
	e, err := reg.Lookup(sdk.KindSource, "file")
	if err != nil {
		t.Fatal(err)
	}
	if e.Plugin.SHA256 != want.SHA256 || reg.LockPath() != filepath.Join(dir, registry.LockFile) {
		t.Fatalf("plugin pinned to %q under %q, want %q under %s", e.Plugin.SHA256, reg.LockPath(), want.SHA256, filepath.Join(dir, registry.LockFile))
	}
	inst, err := reg.Launch(ctx(t), e)
	if err != nil {
		t.Fatalf("Launch of the locked binary: %v", err)
	}
	inst.Kill()

	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("tampered"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := sha256Of(bin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Launch(ctx(t), e)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodePermissionDenied || se.Retryable() {
		t.Fatalf("Launch of a changed binary: %v (%T), want a non-retryable permission_denied sdk.Error", err, err)
	}
	msg := fmt.Sprintf("plugin binary %s does not match %s: its sha256 is %s, the lock expects %s (plugin file %s when it was locked) "+
		"(if the change is intended, as after an upgrade or a rebuild, run `adf plugins lock` again and restart any running `adf serve`; otherwise do not run it: reinstall the plugin)",
		bin, filepath.Join(dir, registry.LockFile), got, want.SHA256, want.Version)
	if err.Error() != msg {
		t.Errorf("Launch error:\n%s\nwant\n%s", err, msg)
	}
	if kids := pluginChildren(t); len(kids) != 0 {
		t.Errorf("a refused binary was run: %v", kids)
	}
}

func sha256Of(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", sha256.Sum256(data)), nil
}

// Package testkit builds the host and plugin binaries for tests, so that
// integration tests run real plugin processes.
package testkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RepoRoot is the module root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

var (
	mu    sync.Mutex
	built = map[string]string{}
	dir   string
)

// Build compiles the main package at pkg (relative to the repository root,
// e.g. "plugins/file/cmd/adf-plugin-file") into a directory shared by the
// test binary and returns the binary's path. Each package builds once per
// test process.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	if err := ensureBinDir(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, "./"+pkg)
	cmd.Dir = RepoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	// The host refuses plugin binaries others may write; a umask of 002
	// must not make the test's own binaries look tampered with.
	if err := os.Chmod(out, 0o755); err != nil {
		t.Fatal(err)
	}
	built[pkg] = out
	return out
}

// ensureBinDir creates the directory Build puts binaries in (mu held),
// named for the test process. A test binary has no hook at its end to
// remove it (its tests' cleanups run before the binaries' last use), so it
// removes instead the directories of test processes that have ended.
func ensureBinDir() error {
	if dir != "" {
		return nil
	}
	removeStaleBinDirs()
	d, err := os.MkdirTemp("", fmt.Sprintf("adf-test-bin-%d-", os.Getpid()))
	if err != nil {
		return err
	}
	dir = d
	return nil
}

// removeStaleBinDirs removes the binary directories of ended test
// processes (by the pid in their names; unnamed ones of older test kits
// once they are an hour old).
func removeStaleBinDirs() {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), "adf-test-bin-*"))
	for _, d := range old {
		rest := strings.TrimPrefix(filepath.Base(d), "adf-test-bin-")
		pidText, _, named := strings.Cut(rest, "-")
		if pid, err := strconv.Atoi(pidText); named && err == nil {
			if syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
				continue // still running
			}
		} else if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < time.Hour {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// PluginDir returns a fresh plugins directory holding the given plugin
// binaries (built by Build), as symlinks.
func PluginDir(t testing.TB, pkgs ...string) string {
	t.Helper()
	d := t.TempDir()
	for _, pkg := range pkgs {
		bin := Build(t, pkg)
		if err := os.Symlink(bin, filepath.Join(d, filepath.Base(bin))); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// FilePlugin is the package of the bundled file plugin.
const FilePlugin = "plugins/file/cmd/adf-plugin-file"

// Starts is how many times a counting wrapper script started: such a
// script appends the line "started" to marker each time it runs (0 when
// it never ran).
func Starts(t testing.TB, marker string) int {
	t.Helper()
	data, err := os.ReadFile(marker)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "started\n")
}

// Package testkit builds the host and plugin binaries for tests, so that
// integration tests run real plugin processes.
package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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

// ensureBinDir creates the directory Build puts binaries in (mu held).
func ensureBinDir() error {
	if dir != "" {
		return nil
	}
	d, err := os.MkdirTemp("", "adf-test-bin-")
	if err != nil {
		return err
	}
	dir = d
	return nil
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

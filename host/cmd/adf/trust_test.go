package main

// Plugin trust through the real adf binary: `adf plugins lock` pins the
// binaries, a changed or unlisted one is refused with what to do; files and
// directories others could write, or owned by another user, are refused; a
// plugin that never describes itself is given up on.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
)

// installCopy copies the binary of a plugin package into dir (a copy, not
// testkit's symlink: the tests change it) and returns its path.
func installCopy(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	data, err := os.ReadFile(testkit.Build(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha256Hex(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// trustEnv is an adf installation whose plugins directory holds a copy of
// the file plugin, and a flow that uses it.
func trustEnv(t *testing.T) (e *env, bin, flowPath string) {
	t.Helper()
	e = &env{bin: testkit.Build(t, adfPkg), pluginDir: t.TempDir(), dataDir: t.TempDir(), work: t.TempDir()}
	bin = installCopy(t, e.pluginDir, testkit.FilePlugin, "adf-plugin-file")
	write(t, e.work, "in.csv", "id\n1\n2\n")
	flowPath = write(t, e.work, "copy.yaml", "name: copy\nsource: {type: file, config: {path: in.csv}}\nsink: {type: file, config: {path: out.jsonl}}\n")
	return e, bin, flowPath
}

// fileVersion is the file plugin's version, as adf describes it.
func fileVersion(t *testing.T, e *env) string {
	t.Helper()
	r := e.run(t, "plugins", "describe", "file", "--kind", "source")
	m := regexp.MustCompile(`source file \(plugin file (\S+)\)`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("adf plugins describe file\n%s", r)
	}
	return m[1]
}

func TestPluginsLock(t *testing.T) {
	e, bin, flowPath := trustEnv(t)
	lockPath := filepath.Join(e.pluginDir, "plugins.lock")
	r := e.run(t, "plugins", "list")
	if want := "no plugins.lock: every adf-plugin-* binary there runs; pin them with `adf plugins lock`\n"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("adf plugins list without a lock: want %q\n%s", want, r)
	}
	version := fileVersion(t, e)

	// Lock: the file, in sha256sum's format, with the manifest's name and
	// version.
	sum := sha256Hex(t, bin)
	r = e.run(t, "plugins", "lock")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("wrote %s: 1 plugins pinned\n", lockPath)) ||
		!regexp.MustCompile(`(?m)^adf-plugin-file\s+file\s+`+regexp.QuoteMeta(version)+`\s+`+sum+`$`).MatchString(r.stdout) {
		t.Fatalf("adf plugins lock\n%s", r)
	}
	got, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	want := "# plugins.lock: the plugin binaries adf may run from this directory, pinned\n" +
		"# by the SHA-256 of their contents. Written by `adf plugins lock`; while this\n" +
		"# file exists adf refuses any adf-plugin-* binary that is not listed here or\n" +
		"# whose checksum differs. Run `adf plugins lock` again after installing or\n" +
		"# upgrading a plugin; delete this file to stop pinning. Check by hand with:\n" +
		"#   sha256sum -c plugins.lock\n" +
		"\n" +
		"# plugin file " + version + "\n" +
		sum + "  adf-plugin-file\n"
	if string(got) != want {
		t.Errorf("plugins.lock:\n%s\nwant:\n%s", got, want)
	}
	if out, err := exec.Command("sh", "-c", "cd "+e.pluginDir+" && sha256sum -c plugins.lock").CombinedOutput(); err != nil || string(out) != "adf-plugin-file: OK\n" {
		t.Errorf("sha256sum -c plugins.lock: %v\n%s", err, out)
	}
	r = e.run(t, "plugins", "list")
	if want := fmt.Sprintf("pinned by %s: only the binaries it lists, with their checksums, run\n", lockPath); r.code != 0 ||
		!strings.Contains(r.stdout, want) || strings.Contains(r.stdout, "skipped") {
		t.Fatalf("adf plugins list with the lock: want %q and no problem\n%s", want, r)
	}
	if r := e.run(t, "run", "--progress", "none", flowPath); r.code != 0 {
		t.Fatalf("adf run with the locked plugin\n%s", r)
	}
	// The log says which directory was loaded, how many plugins and the lock.
	r = e.run(t, "--log-level", "info", "plugins", "list")
	if want := fmt.Sprintf("adf: plugins loaded: dir=%s plugins=1 problems=0 lock=%s\n", e.pluginDir, lockPath); !strings.Contains(r.stderr, want) {
		t.Errorf("adf --log-level info plugins list: want the log line %q\n%s", want, r)
	}

	// Tampered with: refused by list and run, naming the file, both
	// checksums and what to do; nothing runs.
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("not what was locked"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	refusal := fmt.Sprintf("plugin binary %s does not match %s: its sha256 is %s, the lock expects %s (plugin file %s when it was locked) "+
		"(if the change is intended, as after an upgrade or a rebuild, run `adf plugins lock` again and restart any running `adf serve`; otherwise do not run it: reinstall the plugin)",
		bin, lockPath, sha256Hex(t, bin), sum, version)
	r = e.run(t, "plugins", "list")
	if want := "skipped " + bin + ": " + refusal + "\n"; r.code != 0 || !strings.Contains(r.stdout, want) || strings.Contains(r.stdout, "source  file") {
		t.Errorf("adf plugins list of a tampered binary: want\n%s\n%s", want, r)
	}
	os.Remove(filepath.Join(e.work, "out.jsonl"))
	r = e.run(t, "run", "--progress", "none", flowPath)
	if want := fmt.Sprintf("error: source: source type \"file\" is not installed (searched %s; installed sources: none); refused plugins, which may provide it: %s\n", e.pluginDir, refusal); r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("adf run with a tampered binary: want exit 1 and\n%s\n%s", want, r)
	}
	if _, err := os.Stat(filepath.Join(e.work, "out.jsonl")); err == nil {
		t.Error("adf run wrote output with a refused plugin")
	}

	// The change was intended: lock again, and it runs.
	if r := e.run(t, "plugins", "lock"); r.code != 0 {
		t.Fatalf("adf plugins lock after the change\n%s", r)
	}
	if r := e.run(t, "run", "--progress", "none", flowPath); r.code != 0 {
		t.Fatalf("adf run after locking again\n%s", r)
	}

	// A binary the lock does not list is refused without being run.
	marker := filepath.Join(e.work, "ran")
	extra := filepath.Join(e.pluginDir, "adf-plugin-extra")
	if err := os.WriteFile(extra, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r = e.run(t, "plugins", "list")
	want = fmt.Sprintf("skipped %s: plugin binary %s is not listed in %s (while the lock exists adf runs only the binaries it lists; "+
		"if you installed it on purpose, run `adf plugins lock` again, otherwise remove it)\n", extra, extra, lockPath)
	if r.code != 0 || !strings.Contains(r.stdout, want) || !regexp.MustCompile(`(?m)^source\s+file\s+file`).MatchString(r.stdout) {
		t.Errorf("adf plugins list with an unlisted binary: want\n%s\n%s", want, r)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a binary the lock does not list was run")
	}

	// A lock others could rewrite pins nothing: adf refuses to go on.
	if err := os.Chmod(lockPath, 0o666); err != nil {
		t.Fatal(err)
	}
	r = e.run(t, "plugins", "list")
	want = fmt.Sprintf("error: plugin lock %s is writable by group or others (mode 0666) (anyone who can write it can make adf run their code as this user; make it writable by its owner only: chmod go-w %s)\n", lockPath, lockPath)
	if r.code != 1 || r.stderr != want {
		t.Errorf("adf plugins list with a world-writable lock: want exit 1 and\n%s\n%s", want, r)
	}
}

func TestPluginFilesOthersCanWriteAreRefused(t *testing.T) {
	e, bin, flowPath := trustEnv(t)
	marker := filepath.Join(e.work, "ran")
	script := filepath.Join(e.pluginDir, "adf-plugin-open")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bin, script} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	refusal := func(p string, mode string) string {
		return fmt.Sprintf("plugin binary %s is writable by group or others (mode %s) (anyone who can write it can make adf run their code as this user; make it writable by its owner only: chmod go-w %s)", p, mode, p)
	}
	r := e.run(t, "plugins", "list")
	for _, p := range []string{bin, script} {
		if want := "skipped " + p + ": " + refusal(p, "0777") + "\n"; r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("adf plugins list: want\n%s\n%s", want, r)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a plugin binary anyone can write was run")
	}
	r = e.run(t, "run", "--progress", "none", flowPath)
	if want := fmt.Sprintf("error: source: source type \"file\" is not installed (searched %s; installed sources: none); refused plugins, which may provide it: %s; %s\n",
		e.pluginDir, refusal(bin, "0777"), refusal(script, "0777")); r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("adf run: want exit 1 and\n%s\n%s", want, r)
	}
	os.Remove(script)

	// Group-writable is refused the same way.
	if err := os.Chmod(bin, 0o775); err != nil {
		t.Fatal(err)
	}
	if r := e.run(t, "plugins", "list"); !strings.Contains(r.stdout, refusal(bin, "0775")) {
		t.Errorf("adf plugins list of a group-writable binary: want %s\n%s", refusal(bin, "0775"), r)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}

	// A directory others can write: nothing is loaded from it.
	if err := os.Chmod(e.pluginDir, 0o777); err != nil {
		t.Fatal(err)
	}
	r = e.run(t, "plugins", "list")
	want := fmt.Sprintf("skipped %s: plugins directory %s is writable by group or others (mode 0777) (anyone who can write it can add or replace plugins that adf runs as this user, so none is loaded from it; make it writable by its owner only: chmod go-w %s)\n",
		e.pluginDir, e.pluginDir, e.pluginDir)
	if r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "(0 plugins)") {
		t.Errorf("adf plugins list of a world-writable directory: want\n%s\n%s", want, r)
	}
	r = e.run(t, "run", "--progress", "none", flowPath)
	if want := fmt.Sprintf("error: source: source type \"file\" is not installed (searched %s; installed sources: none); refused plugins, which may provide it: plugins directory %s is writable by group or others (mode 0777)",
		e.pluginDir, e.pluginDir); r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("adf run from a world-writable directory: want exit 1 and\n%s\n%s", want, r)
	}
	if err := os.Chmod(e.pluginDir, 0o700); err != nil {
		t.Fatal(err)
	}

	// A binary owned by another user (only root can give one away).
	if os.Geteuid() != 0 {
		t.Log("not root: the other-owner case needs chown")
		return
	}
	if err := os.Chown(bin, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	r = e.run(t, "plugins", "list")
	want = fmt.Sprintf("skipped %s: plugin binary %s is owned by uid 4242, neither this host's user (uid 0) nor root (its owner can make adf run their code as this user; chown it to uid 0 or root, or remove it)\n", bin, bin)
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("adf plugins list of another user's binary: want\n%s\n%s", want, r)
	}
}

// A plugin that completes its handshake but never answers Describe is
// reported within the describe deadline (10s) and the rest still loads.
func TestPluginThatNeverDescribesItself(t *testing.T) {
	e, _, _ := trustEnv(t)
	mute := installCopy(t, e.pluginDir, "host/registry/testdata/adf-plugin-mute", "adf-plugin-mute")
	start := time.Now()
	r := e.run(t, "plugins", "list")
	took := time.Since(start)
	want := fmt.Sprintf("skipped %s: plugin %s started but did not describe itself within 10s (it is skipped; report it to its authors, or remove it from the plugins directory)\n", mute, mute)
	if r.code != 0 || !strings.Contains(r.stdout, want) || !regexp.MustCompile(`(?m)^source\s+file\s+file`).MatchString(r.stdout) {
		t.Errorf("adf plugins list: want\n%s\n%s", want, r)
	}
	if took > 16*time.Second {
		t.Errorf("adf plugins list took %s, want the 10s describe deadline plus the kill grace", took)
	}
	if out, _ := exec.Command("pgrep", "-f", mute).Output(); len(out) > 0 {
		t.Errorf("the mute plugin is still running: pids %s", out)
	}
	t.Logf("adf plugins list ended in %s", took.Round(100*time.Millisecond))
}

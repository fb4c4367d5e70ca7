package main

// The plugin manifest cache through the real adf binary: with a warm cache
// `adf run` starts only the plugins its flow uses while `adf plugins list`
// still shows them all; a replaced binary is described again; a damaged
// cache file is ignored and rewritten; a plugins.lock pinning other
// contents is not satisfied by the cache; a binary that failed is tried
// again.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/internal/testkit"
)

const stuckPkg = "host/registry/testdata/adf-plugin-stuck"

// cacheEnv is an adf installation whose plugins directory holds a copy of
// the file plugin, with a one-row file-to-file flow.
func cacheEnv(t *testing.T) (e *env, flowPath string) {
	t.Helper()
	e = &env{bin: testkit.Build(t, adfPkg), pluginDir: t.TempDir(), dataDir: t.TempDir(), work: t.TempDir()}
	installCopy(t, e.pluginDir, testkit.FilePlugin, "adf-plugin-file")
	write(t, e.work, "in.csv", "id,name\n1,a\n")
	flowPath = write(t, e.work, "one.yaml", "name: one\nsource: {type: file, config: {path: in.csv}}\nsink: {type: file, config: {path: out.jsonl}}\n")
	return e, flowPath
}

// countedPlugin installs dir/name, a script that appends a line to the
// returned marker file each time it is started, then runs the binary of
// pkg.
func countedPlugin(t *testing.T, dir, name, pkg string) (marker string) {
	t.Helper()
	marker = filepath.Join(t.TempDir(), name+".launches")
	write(t, dir, name, "#!/bin/sh\necho started >> "+marker+"\nexec "+testkit.Build(t, pkg)+"\n")
	if err := os.Chmod(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	return marker
}

// cacheFile is the manifest cache file of e's plugins directory.
func cacheFile(t *testing.T, e *env) string {
	t.Helper()
	p, err := registry.ManifestCachePath(e.dataDir, e.pluginDir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	stuckListed = regexp.MustCompile(`(?m)^sink\s+stuck\s+stuck\s+`)
	fileListed  = regexp.MustCompile(`(?m)^source\s+file\s+file\s+`)
)

func TestRunStartsOnlyTheFlowsPlugins(t *testing.T) {
	e, flowPath := cacheEnv(t)
	stuck := countedPlugin(t, e.pluginDir, "adf-plugin-stuck", stuckPkg)

	r := e.run(t, "plugins", "list")
	if r.code != 0 || !stuckListed.MatchString(r.stdout) || !fileListed.MatchString(r.stdout) || testkit.Starts(t, stuck) != 1 {
		t.Fatalf("adf plugins list: want both plugins, the stuck one described once (%d)\n%s", testkit.Starts(t, stuck), r)
	}
	path := cacheFile(t, e)
	if fi, err := os.Stat(path); err != nil || fi.Mode() != 0o600 {
		t.Fatalf("cache file %s: %v; want mode 0600", path, err)
	}

	// The run validates and runs the file plugin only.
	r = e.run(t, "--log-level", "debug", "run", "--progress", "none", flowPath)
	if r.code != 0 {
		t.Fatalf("adf run\n%s", r)
	}
	if n := testkit.Starts(t, stuck); n != 1 {
		t.Errorf("adf run started the plugin its flow does not use (%d launches)", n)
	}
	if want := fmt.Sprintf("adf: plugin manifests: cache=%s binaries=2 from_cache=2\n", path); !strings.Contains(r.stderr, want) {
		t.Errorf("adf run: want the log line %q\n%s", want, r)
	}
	started := regexp.MustCompile(`starting plugin: (?:\S+=\S+ )*?path=(\S+)`).FindAllStringSubmatch(r.stderr, -1)
	if len(started) == 0 {
		t.Errorf("adf run started no plugin\n%s", r)
	}
	for _, m := range started {
		if m[1] != filepath.Join(e.pluginDir, "adf-plugin-file") {
			t.Errorf("adf run started %s, want only the file plugin", m[1])
		}
	}
	if out, err := os.ReadFile(filepath.Join(e.work, "out.jsonl")); err != nil || !strings.Contains(string(out), `"name":"a"`) {
		t.Errorf("out.jsonl: %q, %v", out, err)
	}

	// Listed still, from the cache.
	r = e.run(t, "plugins", "list")
	if r.code != 0 || !stuckListed.MatchString(r.stdout) || testkit.Starts(t, stuck) != 1 {
		t.Errorf("adf plugins list with a warm cache: want the stuck plugin listed and not started (%d)\n%s", testkit.Starts(t, stuck), r)
	}
}

// A binary replaced by another at the same path is described again: the
// next command sees its types.
func TestReplacedPluginIsDescribedAgain(t *testing.T) {
	e := &env{bin: testkit.Build(t, adfPkg), pluginDir: t.TempDir(), dataDir: t.TempDir(), work: t.TempDir()}
	installCopy(t, e.pluginDir, stuckPkg, "adf-plugin-x")
	if r := e.run(t, "plugins", "list"); r.code != 0 || !stuckListed.MatchString(r.stdout) || fileListed.MatchString(r.stdout) {
		t.Fatalf("adf plugins list: want the stuck plugin\n%s", r)
	}
	installCopy(t, e.pluginDir, testkit.FilePlugin, "adf-plugin-x")
	r := e.run(t, "plugins", "list")
	if r.code != 0 || stuckListed.MatchString(r.stdout) || !fileListed.MatchString(r.stdout) {
		t.Fatalf("adf plugins list after replacing the binary: want the file plugin only\n%s", r)
	}
	write(t, e.work, "in.csv", "id\n1\n")
	flowPath := write(t, e.work, "f.yaml", "name: f\nsource: {type: file, config: {path: in.csv}}\nsink: {type: file, config: {path: out.jsonl}}\n")
	if r := e.run(t, "run", "--progress", "none", flowPath); r.code != 0 {
		t.Errorf("adf run with the replaced binary\n%s", r)
	}
}

func TestDamagedManifestCacheIsRewritten(t *testing.T) {
	e, flowPath := cacheEnv(t)
	if r := e.run(t, "plugins", "list"); r.code != 0 {
		t.Fatalf("adf plugins list\n%s", r)
	}
	path := cacheFile(t, e)
	write(t, filepath.Dir(path), filepath.Base(path), "\x00\x01 not json")
	r := e.run(t, "--log-level", "debug", "plugins", "list")
	if r.code != 0 || !fileListed.MatchString(r.stdout) || strings.Contains(r.stdout, "skipped") ||
		!strings.Contains(r.stderr, "binaries=1 from_cache=0") {
		t.Fatalf("adf plugins list with a damaged cache: want the file plugin, described\n%s", r)
	}
	data, err := os.ReadFile(path)
	if err != nil || !json.Valid(data) || !strings.Contains(string(data), filepath.Join(e.pluginDir, "adf-plugin-file")) {
		t.Fatalf("the damaged cache file was not rewritten: %v\n%s", err, data)
	}
	if r := e.run(t, "--log-level", "debug", "run", "--progress", "none", flowPath); r.code != 0 || !strings.Contains(r.stderr, "binaries=1 from_cache=1") {
		t.Errorf("adf run after the rewrite: want success from the cache\n%s", r)
	}
}

// A plugins.lock whose checksum is not the cached binary's is not
// satisfied by the cache: the binary is refused, as without one.
func TestLockNotSatisfiedByCache(t *testing.T) {
	e, flowPath := cacheEnv(t)
	bin := filepath.Join(e.pluginDir, "adf-plugin-file")
	if r := e.run(t, "run", "--progress", "none", flowPath); r.code != 0 {
		t.Fatalf("adf run\n%s", r)
	}
	other := fmt.Sprintf("%x", sha256.Sum256([]byte("another build")))
	lock := &registry.Lock{Entries: []registry.LockEntry{{File: "adf-plugin-file", SHA256: other}}}
	lockPath := write(t, e.pluginDir, registry.LockFile, string(lock.Marshal()))
	r := e.run(t, "plugins", "list")
	refusal := fmt.Sprintf("plugin binary %s does not match %s: its sha256 is %s, the lock expects %s", bin, lockPath, sha256Hex(t, bin), other)
	if want := "skipped " + bin + ": " + refusal; r.code != 0 || !strings.Contains(r.stdout, want) || fileListed.MatchString(r.stdout) {
		t.Errorf("adf plugins list under a lock pinning other contents: want\n%s\n%s", want, r)
	}
	os.Remove(filepath.Join(e.work, "out.jsonl"))
	if r := e.run(t, "run", "--progress", "none", flowPath); r.code != 1 || !strings.Contains(r.stderr, "refused plugins, which may provide it: "+refusal) {
		t.Errorf("adf run under a lock pinning other contents: want exit 1 and\n%s\n%s", refusal, r)
	}
	if _, err := os.Stat(filepath.Join(e.work, "out.jsonl")); err == nil {
		t.Error("adf run wrote output with a refused plugin")
	}
	// Pinned to what it is, it runs (and its manifest may come from the
	// cache again).
	lock.Entries[0].SHA256 = sha256Hex(t, bin)
	write(t, e.pluginDir, registry.LockFile, string(lock.Marshal()))
	if r := e.run(t, "run", "--progress", "none", flowPath); r.code != 0 {
		t.Errorf("adf run under the right lock\n%s", r)
	}
}

// A binary that failed to describe itself is not cached: the next command
// tries it again.
func TestFailedPluginIsTriedAgain(t *testing.T) {
	e := &env{bin: testkit.Build(t, adfPkg), pluginDir: t.TempDir(), dataDir: t.TempDir(), work: t.TempDir()}
	flag := filepath.Join(e.work, "works")
	marker := filepath.Join(e.work, "launches")
	flaky := write(t, e.pluginDir, "adf-plugin-flaky", "#!/bin/sh\necho started >> "+marker+"\n[ -e "+flag+" ] || exit 1\nexec "+
		testkit.Build(t, testkit.FilePlugin)+"\n")
	if err := os.Chmod(flaky, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		r := e.run(t, "plugins", "list")
		if r.code != 0 || !strings.Contains(r.stdout, "skipped "+flaky+": ") || testkit.Starts(t, marker) != i {
			t.Fatalf("adf plugins list %d: want the failing binary tried (launches: %d) and skipped\n%s", i, testkit.Starts(t, marker), r)
		}
	}
	write(t, e.work, "works", "")
	if r := e.run(t, "plugins", "list"); r.code != 0 || !fileListed.MatchString(r.stdout) || testkit.Starts(t, marker) != 3 {
		t.Errorf("adf plugins list once the binary works: want its types\n%s", r)
	}
}

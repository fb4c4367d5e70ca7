package registry_test

// Tests of the manifest cache against real plugin processes: a warm scan
// starts nothing, a changed binary is described again, a damaged, foreign
// or untrusted cache file is ignored and rewritten, the lock's checksum
// must be the cached one, and failures are never cached.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

const stuckPlugin = "host/registry/testdata/adf-plugin-stuck"

// counted installs dir/name, a script that appends a line to a marker file
// each time it is started and then runs the binary real (padded with a
// comment to size bytes, when size is not 0), and returns the marker's
// path.
func counted(t *testing.T, dir, name, real string, size int) string {
	t.Helper()
	marker := filepath.Join(t.TempDir(), name+".launches")
	script := "#!/bin/sh\necho started >> " + marker + "\nexec " + real + "\n"
	if size > 0 {
		if len(script)+2 > size {
			t.Fatalf("script of %d bytes does not fit in %d", len(script), size)
		}
		script += "#" + strings.Repeat("x", size-len(script)-2) + "\n"
	}
	writeFile(t, filepath.Join(dir, name), script, 0o755)
	return marker
}

func scanCached(t *testing.T, dir, cacheDir string) *registry.Registry {
	t.Helper()
	reg := registry.New(dir, nil, registry.WithManifestCache(cacheDir))
	t.Cleanup(reg.Close) // processes kept after a validation
	if err := reg.Scan(ctx(t)); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return reg
}

// components lists a registry's entries as "kind type plugin version".
func components(reg *registry.Registry) []string {
	var out []string
	for _, e := range reg.Entries() {
		out = append(out, fmt.Sprintf("%s %s %s %s", e.Kind, e.Type, e.Plugin.Name, e.Plugin.Version))
	}
	return out
}

// cachedPaths lists the binaries a cache file has entries for.
func cachedPaths(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Entries []struct {
			Path string `json:"path"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("cache file %s: %v\n%s", path, err, data)
	}
	var out []string
	for _, e := range f.Entries {
		out = append(out, e.Path)
	}
	sort.Strings(out)
	return out
}

func cachePath(t *testing.T, cacheDir, dir string) string {
	t.Helper()
	p, err := registry.ManifestCachePath(cacheDir, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestManifestCacheWarmScanStartsNothing(t *testing.T) {
	// The binaries written just now are trusted by their stat at once.
	defer registry.SetRacyWindow(0)()
	dir, cacheDir := t.TempDir(), t.TempDir()
	fileRuns := counted(t, dir, "adf-plugin-file", testkit.Build(t, testkit.FilePlugin), 0)
	stuckRuns := counted(t, dir, "adf-plugin-stuck", testkit.Build(t, stuckPlugin), 0)

	cold := scanCached(t, dir, cacheDir)
	if testkit.Starts(t, fileRuns) != 1 || testkit.Starts(t, stuckRuns) != 1 {
		t.Fatalf("cold scan: %d and %d launches, want each binary described once", testkit.Starts(t, fileRuns), testkit.Starts(t, stuckRuns))
	}
	want := components(cold)
	if len(want) != 3 || len(cold.Problems()) != 0 {
		t.Fatalf("cold scan: components %v, problems %v; want the file source and sink and the stuck sink", want, cold.Problems())
	}
	path := cachePath(t, cacheDir, dir)
	if got := cachedPaths(t, path); len(got) != 2 || got[0] != filepath.Join(dir, "adf-plugin-file") || got[1] != filepath.Join(dir, "adf-plugin-stuck") {
		t.Errorf("cache entries %v, want both binaries", got)
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, %v; want mode %v", p, fi.Mode(), err, mode)
		}
	}

	// Warm: the same components, schemas and capabilities, and nothing
	// started; nothing changed, so the file is not rewritten.
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	warm := scanCached(t, dir, cacheDir)
	if testkit.Starts(t, fileRuns) != 1 || testkit.Starts(t, stuckRuns) != 1 {
		t.Errorf("warm scan started plugins: %d and %d launches", testkit.Starts(t, fileRuns), testkit.Starts(t, stuckRuns))
	}
	if got := components(warm); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warm scan components %v, want %v", got, want)
	}
	for _, k := range []sdk.Kind{sdk.KindSource, sdk.KindSink} {
		c, _ := cold.Lookup(k, "file")
		w, err := warm.Lookup(k, "file")
		if err != nil || string(w.Schema) != string(c.Schema) || w.Description != c.Description || w.Delivery() != c.Delivery() ||
			w.Capabilities.String() != c.Capabilities.String() || w.Plugin.Path != c.Plugin.Path {
			t.Errorf("warm %s file entry %+v, %v; want that of the cold scan %+v", k, w, err, c)
		}
	}

	if again, err := os.ReadFile(path); err != nil || string(again) != string(written) {
		t.Errorf("a warm scan rewrote the cache file (%v)", err)
	}

	// The engine starts a cached plugin as any other.
	e, err := warm.Lookup(sdk.KindSource, "file")
	if err != nil {
		t.Fatal(err)
	}
	if err := warm.ValidateConfig(ctx(t), e, []byte(`{"path": "x.csv"}`)); err != nil {
		t.Errorf("ValidateConfig through the cached entry: %v", err)
	}
	if n := testkit.Starts(t, fileRuns); n != 2 {
		t.Errorf("file plugin started %d times, want 2 (the cold scan and the validation)", n)
	}

	// Touched, not changed: hashed, found the same, not started.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(dir, "adf-plugin-stuck"), later, later); err != nil {
		t.Fatal(err)
	}
	if got := components(scanCached(t, dir, cacheDir)); testkit.Starts(t, stuckRuns) != 1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after touching a binary: %d launches, components %v; want 1 and %v", testkit.Starts(t, stuckRuns), got, want)
	}

	// Without a cache every binary describes itself, as before.
	scan(t, dir)
	if testkit.Starts(t, stuckRuns) != 2 {
		t.Errorf("a scan without a cache did not describe the binaries")
	}
}

// A binary replaced in place, even by one of the same size with its old
// modification time put back, is described again.
func TestManifestCacheBinaryReplaced(t *testing.T) {
	// As if the first binary had been installed long ago: the stat alone
	// says whether it changed.
	defer registry.SetRacyWindow(0)()
	dir, cacheDir := t.TempDir(), t.TempDir()
	bin := filepath.Join(dir, "adf-plugin-x")
	stuckRuns := counted(t, dir, "adf-plugin-x", testkit.Build(t, stuckPlugin), 400)
	if got := components(scanCached(t, dir, cacheDir)); len(got) != 1 || !strings.HasPrefix(got[0], "sink stuck stuck ") {
		t.Fatalf("components %v, want the stuck sink", got)
	}
	old, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	fileRuns := counted(t, dir, "adf-plugin-x", testkit.Build(t, testkit.FilePlugin), 400)
	if err := os.Chtimes(bin, old.ModTime(), old.ModTime()); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.Stat(bin); now.Size() != old.Size() || !now.ModTime().Equal(old.ModTime()) {
		t.Fatalf("the replacement differs in size or mtime: %v %v, %v %v", now.Size(), now.ModTime(), old.Size(), old.ModTime())
	}
	reg := scanCached(t, dir, cacheDir)
	if got := components(reg); len(got) != 2 || !strings.HasPrefix(got[0], "sink file file ") || !strings.HasPrefix(got[1], "source file file ") {
		t.Errorf("after the replacement: components %v, want the file source and sink", got)
	}
	if testkit.Starts(t, fileRuns) != 1 || testkit.Starts(t, stuckRuns) != 1 {
		t.Errorf("launches: new binary %d, old %d; want 1 each", testkit.Starts(t, fileRuns), testkit.Starts(t, stuckRuns))
	}
	// And that is what is cached now.
	scanCached(t, dir, cacheDir)
	if testkit.Starts(t, fileRuns) != 1 {
		t.Errorf("the replacement's manifest was not cached: %d launches", testkit.Starts(t, fileRuns))
	}
}

// A cache file that is damaged, of another format or writable by others
// is ignored, the binaries describe themselves, and it is written anew.
func TestManifestCacheFileIgnoredAndRewritten(t *testing.T) {
	dir, cacheDir := t.TempDir(), t.TempDir()
	runs := counted(t, dir, "adf-plugin-file", testkit.Build(t, testkit.FilePlugin), 0)
	want := components(scanCached(t, dir, cacheDir))
	path := cachePath(t, cacheDir, dir)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		damage  func()
		comment string
	}{
		{"garbage", func() { writeFile(t, path, "{\"format\": 1, \"entries\": [{\"pa", 0o600) }, "cut short"},
		{"empty", func() { writeFile(t, path, "", 0o600) }, "empty"},
		{"other format", func() {
			writeFile(t, path, strings.Replace(string(good), `"format":1`, `"format":99`, 1), 0o600)
		}, "of a later version"},
		{"other protocol", func() {
			writeFile(t, path, strings.Replace(string(good), `"protocol":1`, `"protocol":99`, 1), 0o600)
		}, "for another host protocol"},
		{"bad manifest", func() {
			var f map[string]any
			if err := json.Unmarshal(good, &f); err != nil {
				t.Fatal(err)
			}
			f["entries"].([]any)[0].(map[string]any)["manifest"] = "bm90IGEgbWFuaWZlc3Q="
			data, _ := json.Marshal(f)
			writeFile(t, path, string(data), 0o600)
		}, "an entry whose manifest does not decode"},
		{"writable by others", func() {
			writeFile(t, path, string(good), 0o600)
			if err := os.Chmod(path, 0o666); err != nil {
				t.Fatal(err)
			}
		}, "others could have chosen its manifests"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.damage()
			n := testkit.Starts(t, runs)
			reg := scanCached(t, dir, cacheDir)
			if got := components(reg); strings.Join(got, "\n") != strings.Join(want, "\n") || len(reg.Problems()) != 0 {
				t.Errorf("with a cache file %s: components %v, problems %v; want %v", c.comment, got, reg.Problems(), want)
			}
			if testkit.Starts(t, runs) != n+1 {
				t.Errorf("with a cache file %s the binary was not described", c.comment)
			}
			if got := cachedPaths(t, path); len(got) != 1 {
				t.Errorf("the cache file was not rewritten: entries %v", got)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode() != 0o600 {
				t.Errorf("rewritten cache file: %v, %v; want mode 0600", fi.Mode(), err)
			}
			scanCached(t, dir, cacheDir)
			if testkit.Starts(t, runs) != n+1 {
				t.Errorf("the rewritten cache file is not used")
			}
		})
	}
}

// Under a plugins.lock, a cached manifest is used only when the lock pins
// the binary the manifest came from; otherwise the launch checks the
// binary against the lock, as without a cache.
func TestManifestCacheUnderLock(t *testing.T) {
	dir, cacheDir := t.TempDir(), t.TempDir()
	bin := filepath.Join(dir, "adf-plugin-file")
	runs := counted(t, dir, "adf-plugin-file", testkit.Build(t, testkit.FilePlugin), 0)
	want := components(scanCached(t, dir, cacheDir))
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, registry.LockFile)
	lock := func(sum [sha256.Size]byte) {
		l := &registry.Lock{Entries: []registry.LockEntry{{File: "adf-plugin-file", SHA256: fmt.Sprintf("%x", sum)}}}
		writeFile(t, lockPath, string(l.Marshal()), 0o644)
	}

	// Pinned to what was cached: nothing starts, and the pin is the one
	// launches verify.
	lock(sha256.Sum256(data))
	reg := scanCached(t, dir, cacheDir)
	if got := components(reg); strings.Join(got, "\n") != strings.Join(want, "\n") || testkit.Starts(t, runs) != 1 {
		t.Fatalf("under a matching lock: components %v, %d launches; want %v from the cache", got, testkit.Starts(t, runs), want)
	}
	if ps := reg.Plugins(); len(ps) != 1 || ps[0].SHA256 != fmt.Sprintf("%x", sha256.Sum256(data)) {
		t.Errorf("plugins %+v, want the pinned checksum", ps)
	}

	// Pinned to something else: the cache does not satisfy the lock; the
	// binary is refused without being run.
	lock(sha256.Sum256([]byte("another binary")))
	reg = scanCached(t, dir, cacheDir)
	probs := reg.Problems()
	if len(reg.Plugins()) != 0 || len(probs) != 1 || probs[0].Path != bin || !strings.Contains(probs[0].Err.Error(), "does not match "+lockPath) {
		t.Errorf("under a lock pinning other contents: plugins %v, problems %v; want %s refused", reg.Plugins(), probs, bin)
	}
	if _, err := reg.Lookup(sdk.KindSource, "file"); err == nil {
		t.Error("the cached manifest provided a type the lock refuses")
	}
	if testkit.Starts(t, runs) != 1 {
		t.Errorf("a binary the lock refuses was run")
	}
}

// A binary that fails to describe itself is not cached: the next scan tries
// it again, and once it works it is cached.
func TestManifestCacheFailuresAreRetried(t *testing.T) {
	dir, cacheDir := t.TempDir(), t.TempDir()
	flag := filepath.Join(t.TempDir(), "works")
	marker := filepath.Join(t.TempDir(), "launches")
	writeFile(t, filepath.Join(dir, "adf-plugin-flaky"), "#!/bin/sh\necho started >> "+marker+"\n[ -e "+flag+" ] || exit 1\nexec "+
		testkit.Build(t, testkit.FilePlugin)+"\n", 0o755)
	for i := 1; i <= 2; i++ {
		reg := scanCached(t, dir, cacheDir)
		if len(reg.Plugins()) != 0 || len(reg.Problems()) != 1 || testkit.Starts(t, marker) != i {
			t.Fatalf("scan %d of a failing binary: plugins %v, problems %v, %d launches; want it tried and failed", i, reg.Plugins(), reg.Problems(), testkit.Starts(t, marker))
		}
	}
	writeFile(t, flag, "", 0o644)
	if reg := scanCached(t, dir, cacheDir); len(reg.Plugins()) != 1 || testkit.Starts(t, marker) != 3 {
		t.Fatalf("once it works: plugins %v, problems %v, %d launches", reg.Plugins(), reg.Problems(), testkit.Starts(t, marker))
	}
	if reg := scanCached(t, dir, cacheDir); len(reg.Plugins()) != 1 || testkit.Starts(t, marker) != 3 {
		t.Errorf("the binary that works now was not cached: %d launches", testkit.Starts(t, marker))
	}
}

// The entries of binaries that are gone are dropped.
func TestManifestCacheDropsRemovedBinaries(t *testing.T) {
	dir, cacheDir := t.TempDir(), t.TempDir()
	counted(t, dir, "adf-plugin-file", testkit.Build(t, testkit.FilePlugin), 0)
	counted(t, dir, "adf-plugin-stuck", testkit.Build(t, stuckPlugin), 0)
	scanCached(t, dir, cacheDir)
	path := cachePath(t, cacheDir, dir)
	if got := cachedPaths(t, path); len(got) != 2 {
		t.Fatalf("cache entries %v, want 2", got)
	}
	if err := os.Remove(filepath.Join(dir, "adf-plugin-stuck")); err != nil {
		t.Fatal(err)
	}
	reg := scanCached(t, dir, cacheDir)
	if got := cachedPaths(t, path); len(got) != 1 || got[0] != filepath.Join(dir, "adf-plugin-file") {
		t.Errorf("cache entries %v after removing a binary, want only %s", got, filepath.Join(dir, "adf-plugin-file"))
	}
	if _, err := reg.Lookup(sdk.KindSink, "stuck"); err == nil {
		t.Error("a removed binary's type is still installed")
	}
}

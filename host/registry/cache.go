package registry

// The manifest cache: what each plugin binary answered to Describe, kept
// in a file so that a command does not start every plugin process of the
// directory (one of them is ~100 MB) just to learn which types exist. Only
// the plugins a flow uses are then started, by the engine, when it runs.
//
// The cache is a performance aid, never a source of truth: a file that is
// missing, unreadable, damaged, of another format or protocol version, or
// that others could have written is ignored (and written anew; in a
// directory others could write no cache is used at all), and an entry is
// used only for the very binary it was made from. Entries are
// keyed by the binary's absolute path and checked against its stat (size,
// mtime, ctime, device and inode, as go's os.Stat follows a symlink: the
// file that runs) and the SHA-256 of its contents:
//
//   - the stat matches, and was taken well after the file last changed:
//     the entry is used as is, without reading the binary (hashing the
//     bundled plugins, ~240 MB, would cost more than starting them);
//   - the stat differs (the file was touched, copied over, rebuilt), or
//     was taken too soon after the file changed (racyWindow): the binary
//     is hashed; the entry is used, with the new stat, only if the hash is
//     the one recorded;
//   - otherwise the binary is started and described, as without a cache.
//
// Under a plugins.lock the pinned checksum must also be the recorded one,
// and every process is still started only after go-plugin verified the
// checksum (launch), so the lock's guarantee does not rest on the cache.
// A binary that failed or was refused is never recorded: it is tried again
// by the next command. Entries of binaries that are gone are dropped.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
)

// ManifestCacheDir is the directory, under the directory given to
// WithManifestCache, that holds the cache files: one per plugins
// directory, named after the SHA-256 of its absolute path.
const ManifestCacheDir = "plugin-manifests"

// cacheFormat is the version of the cache file's layout and meaning; a file
// of another version is ignored.
const cacheFormat = 1

// racyWindow is how long after a binary last changed its stat alone is not
// trusted: a file system with coarse timestamps (whole seconds, two
// seconds on FAT) could give a binary rewritten right after its stat was
// recorded the same size and times, so such an entry is hashed again until
// the change is older than this (as git does with its "racily clean"
// index entries).
var racyWindow = 2 * time.Second

// Option configures a Registry.
type Option func(*Registry)

// WithManifestCache keeps the plugins' manifests in a file under
// dir/ManifestCacheDir (created with mode 0700), so that a scan starts only
// the binaries that are new or changed since they last described
// themselves. An empty dir disables the cache.
func WithManifestCache(dir string) Option {
	return func(r *Registry) { r.cacheDir = dir }
}

// ManifestCachePath is the cache file of a plugins directory under a cache
// directory (as given to WithManifestCache).
func ManifestCachePath(cacheDir, pluginDir string) (string, error) {
	abs, err := filepath.Abs(pluginDir)
	if err != nil {
		return "", fmt.Errorf("plugins directory %s: %w", pluginDir, err)
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(cacheDir, ManifestCacheDir, hex.EncodeToString(sum[:12])+".json"), nil
}

// cacheFile is the layout of a cache file.
type cacheFile struct {
	Format int `json:"format"`
	// Protocol is the host's plugin protocol version, which it sends with
	// Describe: a plugin may answer another host differently.
	Protocol int `json:"protocol"`
	// Dir is the plugins directory (absolute): a file of another one is
	// ignored.
	Dir     string       `json:"dir"`
	Entries []cacheEntry `json:"entries"`
}

// cacheEntry is the manifest of one binary, and which binary that was.
type cacheEntry struct {
	// Path is the binary's absolute path in the plugins directory.
	Path  string `json:"path"`
	Stamp stamp  `json:"stamp"`
	// CheckedNs is when Stamp was taken (Unix nanoseconds).
	CheckedNs int64 `json:"checked_ns"`
	// SHA256 is the lowercase hex SHA-256 of the binary.
	SHA256 string `json:"sha256"`
	// Manifest is the adfv1.Manifest in protobuf's binary encoding, which
	// keeps the fields this host does not know for a newer one.
	Manifest []byte `json:"manifest"`
}

// stamp is what identifies a file's version without reading it.
type stamp struct {
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	CtimeNs int64  `json:"ctime_ns"`
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
}

// stampOf stats path, following symlinks.
func stampOf(path string) (stamp, error) {
	info, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	s := stamp{Size: info.Size(), MtimeNs: info.ModTime().UnixNano()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		s.CtimeNs = st.Ctim.Nano()
		s.Dev, s.Ino = uint64(st.Dev), st.Ino
	}
	return s, nil
}

// settled reports whether the file had not changed for racyWindow when the
// stamp was taken at checked, so that a later change must show in the stamp.
func (s stamp) settled(checked int64) bool {
	limit := checked - int64(racyWindow)
	return s.MtimeNs < limit && s.CtimeNs < limit
}

// manifest returns the manifest of the binary at path: the cached one when
// the cache has that of this very binary (hit), else what it describes
// (which is then cached, unless it failed or the binary changed meanwhile).
func (r *Registry) manifest(ctx context.Context, cache *manifestCache, path string, p *pin) (m *adfv1.Manifest, hit bool, err error) {
	if cache == nil {
		m, err = r.describe(ctx, path, p)
		return m, false, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		m, err = r.describe(ctx, path, p)
		return m, false, err
	}
	// The stamp is recorded with a time from before it was taken (see
	// stamp.settled).
	checked := time.Now().UnixNano()
	before, serr := stampOf(abs)
	if serr == nil {
		if m, ok := cache.lookup(abs, before, checked, p); ok {
			return m, true, nil
		}
	}
	// Under a lock the launch verifies the pinned checksum: that is the
	// checksum of what ran. Otherwise the binary is hashed while it starts.
	sums := make(chan string, 1)
	if p != nil {
		sums <- p.entry.SHA256
	} else {
		go func() {
			sum, err := sha256File(abs)
			if err != nil {
				sum = ""
			}
			sums <- sum
		}()
	}
	m, err = r.describe(ctx, path, p)
	sum := <-sums
	if err != nil {
		return nil, false, err
	}
	// Cached only when the binary that described itself is the one hashed:
	// it did not change from before it started to now.
	if after, aerr := stampOf(abs); serr == nil && aerr == nil && after == before && sum != "" {
		cache.put(abs, before, checked, sum, m)
	}
	return m, false, nil
}

// manifestCache is the cache of one scan: the entries read from the file,
// and those the scan used or made, which replace them.
type manifestCache struct {
	path, dir string
	log       hclog.Logger
	mu        sync.Mutex
	old       map[string]cacheEntry
	next      map[string]cacheEntry
	// rewrite is set when the file must be written even if no entry
	// changed: it was damaged or foreign.
	rewrite bool
}

// openCache reads the registry's cache file; nil when the cache is
// disabled or cannot be used (then the scan describes every binary, as
// without one).
func (r *Registry) openCache() *manifestCache {
	if r.cacheDir == "" {
		return nil
	}
	path, err := ManifestCachePath(r.cacheDir, r.dir)
	if err != nil {
		r.log.Info("plugin manifest cache not used", "error", err)
		return nil
	}
	abs, _ := filepath.Abs(r.dir)
	c := &manifestCache{path: path, dir: abs, log: r.log, old: map[string]cacheEntry{}, next: map[string]cacheEntry{}}
	// A cache others could write would let them choose the types and
	// config schemas (which drive redaction) of the plugins.
	if err := checkTrusted("plugin manifest cache directory", filepath.Dir(path)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c
		}
		r.log.Info("plugin manifest cache not used", "error", err)
		return nil
	}
	if err := checkTrusted("plugin manifest cache", path); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.log.Info("plugin manifest cache ignored", "error", err)
			c.rewrite = true
		}
		return c
	}
	data, err := os.ReadFile(path)
	if err != nil {
		r.log.Info("plugin manifest cache ignored", "path", path, "error", err)
		c.rewrite = true
		return c
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil || f.Format != cacheFormat || f.Protocol != sdk.ProtocolVersion || f.Dir != abs {
		r.log.Info("plugin manifest cache ignored: damaged or of another version", "path", path, "error", err)
		c.rewrite = true
		return c
	}
	for _, e := range f.Entries {
		c.old[e.Path] = e
	}
	return c
}

// lookup returns the cached manifest of the binary at path (absolute),
// whose stamp is st, taken after checked; ok is false when there is none
// that is certainly of this binary, or when p pins other contents than the
// recorded ones.
func (c *manifestCache) lookup(path string, st stamp, checked int64, p *pin) (m *adfv1.Manifest, ok bool) {
	c.mu.Lock()
	e, found := c.old[path]
	c.mu.Unlock()
	if !found || (p != nil && p.entry.SHA256 != e.SHA256) {
		return nil, false
	}
	if e.Stamp != st || !e.Stamp.settled(e.CheckedNs) {
		// The file may have changed: it is the same binary only if its
		// contents are, and the stamp recorded is one seen both before and
		// after they were read.
		sum, err := sha256File(path)
		if err != nil || sum != e.SHA256 {
			return nil, false
		}
		if after, err := stampOf(path); err != nil || after != st {
			return nil, false
		}
		e.Stamp, e.CheckedNs = st, checked
	}
	m = &adfv1.Manifest{}
	if err := proto.Unmarshal(e.Manifest, m); err != nil || m.Name == "" || m.ProtocolVersion != sdk.ProtocolVersion {
		return nil, false
	}
	c.mu.Lock()
	c.next[path] = e
	c.mu.Unlock()
	return m, true
}

// put records the manifest a binary described, with the stamp it had
// before it was started and still has (st) and its checksum.
func (c *manifestCache) put(path string, st stamp, checked int64, sum string, m *adfv1.Manifest) {
	data, err := proto.Marshal(m)
	if err != nil {
		c.log.Info("plugin manifest not cached", "path", path, "error", err)
		return
	}
	c.mu.Lock()
	c.next[path] = cacheEntry{Path: path, Stamp: st, CheckedNs: checked, SHA256: sum, Manifest: data}
	c.mu.Unlock()
}

// save writes the entries of this scan, when they differ from the file's:
// on a warm cache a command writes nothing.
func (c *manifestCache) save() {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := c.rewrite || len(c.next) != len(c.old)
	for p, e := range c.next {
		if o, ok := c.old[p]; !ok || o.Stamp != e.Stamp || o.CheckedNs != e.CheckedNs || o.SHA256 != e.SHA256 {
			changed = true
		}
	}
	if !changed {
		return
	}
	f := cacheFile{Format: cacheFormat, Protocol: sdk.ProtocolVersion, Dir: c.dir, Entries: []cacheEntry{}}
	for _, e := range c.next {
		f.Entries = append(f.Entries, e)
	}
	sort.Slice(f.Entries, func(i, j int) bool { return f.Entries[i].Path < f.Entries[j].Path })
	if err := writeCacheFile(c.path, f); err != nil {
		// The next command describes the binaries again; nothing is wrong
		// with the plugins.
		c.log.Info("plugin manifest cache not written", "path", c.path, "error", err)
		return
	}
	c.log.Debug("plugin manifest cache written", "path", c.path, "entries", len(f.Entries))
}

// writeCacheFile replaces the cache file atomically (a reader sees the old
// file or the new one, never a part), readable by its owner only, in a
// directory of mode 0700.
func writeCacheFile(path string, f cacheFile) error {
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	// No fsync: a cache lost in a crash only costs describing the
	// binaries again, and a damaged one is ignored.
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	return nil
}

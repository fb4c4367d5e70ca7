// Package registry discovers plugin binaries, indexes their components by
// kind and type, resolves the types a flow names (with a helpful error when
// one is missing), and launches plugin processes.
package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
)

// BinaryPrefix starts the file name of every plugin binary.
const BinaryPrefix = "adf-plugin-"

// PluginInfo is one discovered plugin binary.
type PluginInfo struct {
	// Name and Version from the manifest.
	Name, Version string
	// Path of the binary; empty for components built into the host.
	Path string
	// SHA256 is the checksum plugins.lock pins the binary to (lowercase
	// hex); empty when the directory has no lock. A process is started
	// only from a binary that still has it.
	SHA256 string
	// pin is the lock entry behind SHA256.
	pin *pin
}

// Entry is one component and the plugin that provides it.
type Entry struct {
	Kind        sdk.Kind
	Type        string
	Description string
	// Schema is the component's config JSON Schema.
	Schema       []byte
	Capabilities *adfv1.Capabilities
	Plugin       *PluginInfo
}

// Delivery is a sink's delivery guarantee as the host will drive it: the
// manifest's statement for a two-phase sink; at-least-once for a one-phase
// sink (a plugin built before Commit), whatever it claims.
func (e Entry) Delivery() sdk.Delivery {
	c := e.Capabilities
	if e.Kind != sdk.KindSink || c == nil || !c.TwoPhase || c.Delivery == "" {
		return sdk.DeliveryAtLeastOnce
	}
	return sdk.Delivery(c.Delivery)
}

// Builtin reports whether the host itself provides the component.
func (e Entry) Builtin() bool { return e.Plugin == nil || e.Plugin.Path == "" }

// Problem is a plugin binary that could not be used.
type Problem struct {
	Path string
	Err  error
}

type key struct {
	kind sdk.Kind
	typ  string
}

// Registry is the index of installed components.
type Registry struct {
	dir      string
	log      hclog.Logger
	mu       sync.RWMutex
	plugins  []*PluginInfo
	index    map[key]Entry
	builtins map[key]Entry
	problems []Problem
	// refused are the binaries not run because they could not be trusted
	// (ownership, mode, plugins.lock): they may provide a missing type.
	refused []Problem
	// locked is set when the scan found a plugins.lock.
	locked bool
	// parking keeps processes that validated a config for the next Launch.
	parking parking
	// cacheDir holds the manifest cache (WithManifestCache); empty: none.
	cacheDir string
}

// New returns an empty registry for dir; call Scan to fill it.
func New(dir string, log hclog.Logger, opts ...Option) *Registry {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	r := &Registry{dir: dir, log: log, index: map[key]Entry{}, builtins: map[key]Entry{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Dir is the plugins directory.
func (r *Registry) Dir() string { return r.dir }

// AddBuiltin registers a component the host provides itself (the host
// runtime, built-in transforms). Builtins win over plugins of the same type.
func (r *Registry) AddBuiltin(kind sdk.Kind, typ, description string, schema []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := Entry{Kind: kind, Type: typ, Description: description, Schema: schema, Plugin: &PluginInfo{Name: "builtin"}}
	r.builtins[key{kind, typ}] = e
	r.index[key{kind, typ}] = e
}

// describeTimeout bounds a plugin's answer to Describe at scan time (its
// start has startTimeout of its own).
const describeTimeout = 10 * time.Second

// Scan (re)discovers the plugins in the directory: each adf-plugin-* binary is
// launched, asked for its manifest and stopped, unless the manifest cache
// (WithManifestCache) has the manifest of that very binary: then nothing is
// started. A binary that fails is recorded as a Problem and skipped (and
// tried again by the next scan); a type provided twice is a conflict: the
// first binary in name order keeps it and the other is reported.
//
// Only trusted binaries are run: none from a directory writable by group or
// others; no binary writable by group or others, or owned by another user
// than this process's or root; and, when the directory has a plugins.lock,
// only the binaries it lists with their checksum (verified again at every
// launch). The others are Problems naming the file and what to do. A lock
// that is invalid or untrusted itself fails the scan.
func (r *Registry) Scan(ctx context.Context) error {
	lock, err := r.readLock()
	if err != nil {
		return err
	}
	paths, err := r.binaries()
	if err != nil {
		return err
	}
	var problems, refused []Problem
	if err := r.checkDir(); err != nil {
		problems = append(problems, Problem{Path: r.dir, Err: err})
		refused = append(refused, Problem{Path: r.dir, Err: err})
		paths = nil
	}
	type result struct {
		path string
		m    *adfv1.Manifest
		pin  *pin
		err  error
	}
	var cache *manifestCache
	if len(problems) == 0 {
		// (A refused directory leaves the cache as it is: its binaries are
		// not gone.)
		cache = r.openCache()
	}
	results := make([]result, len(paths))
	var cached atomic.Int32
	forEachPath(paths, func(i int, p string) {
		res := result{path: p}
		res.err = checkTrusted("plugin binary", p)
		if res.err == nil && lock != nil {
			if e, ok := lock.Find(filepath.Base(p)); ok {
				res.pin = &pin{lockPath: r.lockPath(), entry: e}
			} else {
				res.err = notListed(p, r.lockPath())
			}
		}
		if res.err == nil {
			var hit bool
			res.m, hit, res.err = r.manifest(ctx, cache, p, res.pin)
			if hit {
				cached.Add(1)
			}
		}
		results[i] = res
	})
	if cache != nil && ctx.Err() == nil {
		// A cancelled scan may have failed binaries that work: it must not
		// forget them.
		cache.save()
	}

	index := map[key]Entry{}
	for k, e := range r.builtins {
		index[k] = e
	}
	var plugins []*PluginInfo
	for _, res := range results {
		if res.err != nil {
			r.log.Warn("plugin skipped", "path", res.path, "error", res.err)
			problems = append(problems, Problem{Path: res.path, Err: res.err})
			if isRefusal(res.err) {
				refused = append(refused, Problem{Path: res.path, Err: res.err})
			}
			continue
		}
		info := &PluginInfo{Name: res.m.Name, Version: res.m.Version, Path: res.path, pin: res.pin}
		if res.pin != nil {
			info.SHA256 = res.pin.entry.SHA256
		}
		plugins = append(plugins, info)
		for _, c := range res.m.Components {
			k := key{sdk.KindFromProto(c.Kind), c.Type}
			if prev, ok := index[k]; ok {
				err := fmt.Errorf("%s type %q is provided by both %s and %s; keeping %s", k.kind, k.typ, prev.Plugin.describe(), info.describe(), prev.Plugin.describe())
				r.log.Warn("plugin conflict", "error", err)
				problems = append(problems, Problem{Path: res.path, Err: err})
				continue
			}
			index[k] = Entry{Kind: k.kind, Type: c.Type, Description: c.Description, Schema: c.ConfigSchema,
				Capabilities: c.Capabilities, Plugin: info}
		}
	}
	r.mu.Lock()
	r.plugins, r.index, r.problems, r.refused, r.locked = plugins, index, problems, refused, lock != nil
	r.mu.Unlock()
	abs, _ := filepath.Abs(r.dir)
	lockState := "none: every adf-plugin-* binary there runs (pin them with `adf plugins lock`)"
	if lock != nil {
		lockState = r.lockPath()
	}
	r.log.Info("plugins loaded", "dir", abs, "plugins", len(plugins), "problems", len(problems), "lock", lockState)
	if cache != nil {
		r.log.Debug("plugin manifests", "cache", cache.path, "binaries", len(paths), "from_cache", cached.Load())
	}
	return nil
}

func (p *PluginInfo) describe() string {
	if p.Path == "" {
		return "the host"
	}
	return fmt.Sprintf("%s %s (%s)", p.Name, p.Version, p.Path)
}

// binaries lists the executable adf-plugin-* files of the directory. A
// missing directory is not an error: nothing is installed.
func (r *Registry) binaries() ([]string, error) {
	entries, err := os.ReadDir(r.dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read plugins directory %s: %w", r.dir, err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), BinaryPrefix) {
			continue
		}
		p := filepath.Join(r.dir, e.Name())
		info, err := os.Stat(p) // follows symlinks
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// describe launches a binary (pinned to a lock entry, when given), asks it
// for its manifest within describeTimeout and stops it.
func (r *Registry) describe(ctx context.Context, path string, p *pin) (*adfv1.Manifest, error) {
	inst, err := launch(ctx, path, r.log, p)
	if err != nil {
		return nil, err
	}
	defer inst.Kill()
	dctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	resp, err := inst.Plugin().Describe(dctx, &adfv1.Describe_Request{HostProtocolVersion: sdk.ProtocolVersion})
	if err != nil {
		if timedOut(ctx, dctx, err) {
			return nil, &sdk.Error{Code: sdk.CodeUnavailable, Err: err,
				Summary: fmt.Sprintf("plugin %s started but did not describe itself within %s", path, describeTimeout),
				Detail:  "it is skipped; report it to its authors, or remove it from the plugins directory"}
		}
		return nil, fmt.Errorf("describe %s: %w", path, err)
	}
	m := resp.GetManifest()
	if m == nil || m.Name == "" {
		return nil, fmt.Errorf("plugin %s returned an empty manifest", path)
	}
	if m.ProtocolVersion != sdk.ProtocolVersion {
		return nil, fmt.Errorf("plugin %s speaks protocol %d, the host speaks %d: rebuild it against this SDK", path, m.ProtocolVersion, sdk.ProtocolVersion)
	}
	return m, nil
}

// timedOut reports whether a call made under rctx, a deadline derived
// from ctx, failed with err because rctx's deadline passed (not because ctx
// ended). gRPC may report the deadline from its own timer a moment before
// rctx's fires, so the status code counts as much as rctx.Err().
func timedOut(ctx, rctx context.Context, err error) bool {
	return ctx.Err() == nil && (rctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded)
}

// Plugins lists the discovered plugins.
func (r *Registry) Plugins() []*PluginInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*PluginInfo(nil), r.plugins...)
}

// LockPath is the plugins.lock the last scan pinned the binaries to; empty
// when the directory has none (every adf-plugin-* binary there runs).
func (r *Registry) LockPath() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.locked {
		return ""
	}
	return r.lockPath()
}

// Problems lists the binaries that could not be used, and conflicts.
func (r *Registry) Problems() []Problem {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Problem(nil), r.problems...)
}

// Entries lists every component, sorted by kind and type.
func (r *Registry) Entries() []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Entry, 0, len(r.index))
	for _, e := range r.index {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// Types lists the installed types of a kind, sorted.
func (r *Registry) Types(kind sdk.Kind) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for k := range r.index {
		if k.kind == kind {
			out = append(out, k.typ)
		}
	}
	sort.Strings(out)
	return out
}

// Lookup resolves a component type. A missing type is a *MissingError that
// tells the user what is installed and how to install what is missing.
func (r *Registry) Lookup(kind sdk.Kind, typ string) (Entry, error) {
	r.mu.RLock()
	e, ok := r.index[key{kind, typ}]
	r.mu.RUnlock()
	if ok {
		return e, nil
	}
	installed := r.Types(kind)
	r.mu.RLock()
	refused := append([]Problem(nil), r.refused...)
	r.mu.RUnlock()
	return Entry{}, &MissingError{Kind: kind, Type: typ, Dir: r.dir, Installed: installed, Closest: closest(typ, installed), Refused: refused}
}

// MissingError is a component type no installed plugin provides.
type MissingError struct {
	Kind      sdk.Kind
	Type      string
	Dir       string
	Installed []string
	Closest   string
	// Refused are the binaries (or the directory) not run because they
	// could not be trusted: one of them may provide the type.
	Refused []Problem
}

// firstParty maps the types of the bundled plugins to their plugin name.
var firstParty = map[string]string{
	"file": "file", "rafka": "rafka", "redis_cache": "rafka", "postgres": "sql",
	"iceberg": "iceberg", "flink": "runtime-flink",
}

// Error implements error.
func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s type %q is not installed (searched %s; installed %ss: ", e.Kind, e.Type, e.Dir, e.Kind)
	if len(e.Installed) == 0 {
		b.WriteString("none")
	} else {
		b.WriteString(strings.Join(e.Installed, ", "))
	}
	b.WriteString(")")
	if e.Closest != "" {
		fmt.Fprintf(&b, "; did you mean %q?", e.Closest)
	}
	name, bundled := firstParty[e.Type]
	hint := true
	if len(e.Refused) > 0 {
		b.WriteString("; refused plugins, which may provide it: ")
		for i, p := range e.Refused {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(p.Err.Error())
			if p.Path == e.Dir || (bundled && filepath.Base(p.Path) == BinaryPrefix+name) {
				hint = false // the refusal says what to do
			}
		}
	}
	switch {
	case !hint:
	case bundled:
		fmt.Fprintf(&b, " %q is provided by the bundled plugin %q: build it with `go build -o %s/%s%s ./plugins/%s/cmd/%s%s` or run scripts/build-plugins.sh",
			e.Type, name, e.Dir, BinaryPrefix, name, name, BinaryPrefix, name)
	default:
		fmt.Fprintf(&b, " To install a plugin, put its executable %s<name> into %s (or set ADF_PLUGIN_DIR / --plugin-dir) and check it with `adf plugins list`", BinaryPrefix, e.Dir)
	}
	return b.String()
}

// isRefusal says whether a binary was refused as untrusted (rather than
// failing to start or describe itself).
func isRefusal(err error) bool {
	var se *sdk.Error
	return errors.As(err, &se) && se.Code == sdk.CodePermissionDenied
}

// closest returns the installed name typ is a plausible typo of (see
// sdk.Suggest: a dropped, doubled or swapped letter, case or separators),
// "" otherwise: types are product names, and one differing letter often
// names another product (kafka is not rafka), so the error lists what is
// installed instead of guessing.
func closest(typ string, installed []string) string { return sdk.Suggest(typ, installed) }

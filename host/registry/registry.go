// Package registry discovers plugin binaries, indexes their components by
// kind and type, resolves the types a flow names (with a helpful error when
// one is missing), and launches plugin processes.
package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

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
}

// New returns an empty registry for dir; call Scan to fill it.
func New(dir string, log hclog.Logger) *Registry {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Registry{dir: dir, log: log, index: map[key]Entry{}, builtins: map[key]Entry{}}
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

// Scan (re)discovers the plugins in the directory: each adf-plugin-* binary is
// launched, asked for its manifest and stopped. A binary that fails is
// recorded as a Problem and skipped; a type provided twice is a conflict: the
// first binary in name order keeps it and the other is reported.
func (r *Registry) Scan(ctx context.Context) error {
	paths, err := r.binaries()
	if err != nil {
		return err
	}
	type result struct {
		path string
		m    *adfv1.Manifest
		err  error
	}
	results := make([]result, len(paths))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			m, err := r.describe(ctx, p)
			results[i] = result{p, m, err}
		}()
	}
	wg.Wait()

	index := map[key]Entry{}
	for k, e := range r.builtins {
		index[k] = e
	}
	var plugins []*PluginInfo
	var problems []Problem
	for _, res := range results {
		if res.err != nil {
			r.log.Warn("plugin skipped", "path", res.path, "error", res.err)
			problems = append(problems, Problem{Path: res.path, Err: res.err})
			continue
		}
		info := &PluginInfo{Name: res.m.Name, Version: res.m.Version, Path: res.path}
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
	r.plugins, r.index, r.problems = plugins, index, problems
	r.mu.Unlock()
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

func (r *Registry) describe(ctx context.Context, path string) (*adfv1.Manifest, error) {
	inst, err := launch(ctx, path, r.log)
	if err != nil {
		return nil, err
	}
	defer inst.Kill()
	resp, err := inst.Plugin().Describe(ctx, &adfv1.Describe_Request{HostProtocolVersion: sdk.ProtocolVersion})
	if err != nil {
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

// Plugins lists the discovered plugins.
func (r *Registry) Plugins() []*PluginInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*PluginInfo(nil), r.plugins...)
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
	return Entry{}, &MissingError{Kind: kind, Type: typ, Dir: r.dir, Installed: installed, Closest: closest(typ, installed)}
}

// MissingError is a component type no installed plugin provides.
type MissingError struct {
	Kind      sdk.Kind
	Type      string
	Dir       string
	Installed []string
	Closest   string
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
	if name, ok := firstParty[e.Type]; ok {
		fmt.Fprintf(&b, " %q is provided by the bundled plugin %q: build it with `go build -o %s/%s%s ./plugins/%s/cmd/%s%s` or run scripts/build-plugins.sh",
			e.Type, name, e.Dir, BinaryPrefix, name, name, BinaryPrefix, name)
	} else {
		fmt.Fprintf(&b, " To install a plugin, put its executable %s<name> into %s (or set ADF_PLUGIN_DIR / --plugin-dir) and check it with `adf plugins list`", BinaryPrefix, e.Dir)
	}
	return b.String()
}

// closest returns the installed name typ is a plausible typo of (see
// sdk.Suggest: a dropped, doubled or swapped letter, case or separators),
// "" otherwise: types are product names, and one differing letter often
// names another product (kafka is not rafka), so the error lists what is
// installed instead of guessing.
func closest(typ string, installed []string) string { return sdk.Suggest(typ, installed) }

package registry_test

// Tests of plugin discovery, lookup and launch against real plugin binaries
// (the bundled file plugin, built by testkit) and deliberately bad ones.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/internal/testkit"
	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
)

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func scan(t *testing.T, dir string) *registry.Registry {
	t.Helper()
	reg := registry.New(dir, nil)
	t.Cleanup(reg.Close) // processes kept after a validation
	if err := reg.Scan(ctx(t)); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return reg
}

// procState returns the state letter of a process and its command name;
// ok is false when the process does not exist.
func procState(pid int) (state byte, comm string, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < 0 || end+2 >= len(s) {
		return 0, "", false
	}
	return s[end+2], s[open+1 : end], true
}

// pluginChildren lists this test process's live children that are plugins.
func pluginChildren(t *testing.T) []string {
	t.Helper()
	var out []string
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		end := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[end+1:])
		if len(f) > 1 && f[1] == me && f[0] != "Z" {
			out = append(out, e.Name()+" "+s[strings.IndexByte(s, '(')+1:end])
		}
	}
	return out
}

func TestScanSkipsUnusableBinaries(t *testing.T) {
	dir := testkit.PluginDir(t, testkit.FilePlugin)
	marker := filepath.Join(t.TempDir(), "ran")
	broken := filepath.Join(dir, "adf-plugin-broken")
	liar := filepath.Join(dir, "adf-plugin-liar")
	writeFile(t, broken, "#!/bin/sh\necho 'cannot start' >&2\nexit 1\n", 0o755)
	// Prints something that is not the go-plugin handshake and stays up.
	writeFile(t, liar, "#!/bin/sh\necho 'hello, I am definitely a plugin'\nexec sleep 30\n", 0o755)
	// Not executable, a directory, and a file without the prefix: ignored,
	// never run (the scripts would leave a marker).
	writeFile(t, filepath.Join(dir, "adf-plugin-noexec"), "#!/bin/sh\ntouch "+marker+"\n", 0o644)
	if err := os.Mkdir(filepath.Join(dir, "adf-plugin-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "helper-tool"), "#!/bin/sh\ntouch "+marker+"\n", 0o755)
	writeFile(t, filepath.Join(dir, "README"), "plugins go here\n", 0o644)

	start := time.Now()
	reg := scan(t, dir)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Scan took %s: a bad plugin should fail fast, not by the start timeout", d)
	}

	plugins := reg.Plugins()
	if len(plugins) != 1 || plugins[0].Name != "file" || plugins[0].Path != filepath.Join(dir, "adf-plugin-file") || plugins[0].Version == "" {
		t.Fatalf("plugins %+v, want only file at %s", plugins, filepath.Join(dir, "adf-plugin-file"))
	}
	for _, k := range []sdk.Kind{sdk.KindSource, sdk.KindSink} {
		e, err := reg.Lookup(k, "file")
		if err != nil {
			t.Fatalf("Lookup(%s, file): %v", k, err)
		}
		if e.Builtin() || e.Plugin != plugins[0] || e.Capabilities == nil || !e.Capabilities.Bounded || !strings.Contains(string(e.Schema), `"path"`) {
			t.Errorf("entry %s file: %+v", k, e)
		}
	}
	if got := reg.Types(sdk.KindSource); !reflect.DeepEqual(got, []string{"file"}) {
		t.Errorf("source types %v, want [file]", got)
	}
	if got := len(reg.Entries()); got != 2 {
		t.Errorf("%d entries, want 2 (no builtins registered)", got)
	}

	probs := map[string]error{}
	for _, p := range reg.Problems() {
		probs[p.Path] = p.Err
	}
	if len(probs) != 2 || probs[broken] == nil || probs[liar] == nil {
		t.Fatalf("problems %v, want exactly %s and %s", probs, broken, liar)
	}
	for path, err := range probs {
		if !strings.Contains(err.Error(), path) {
			t.Errorf("problem of %s does not name it: %v", path, err)
		}
	}
	if !strings.Contains(probs[liar].Error(), "hello, I am definitely a plugin") {
		t.Errorf("the liar's problem should quote what it printed: %v", probs[liar])
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a file that is not an executable adf-plugin-* was run")
	}
	// Scan stops every process it started.
	if kids := pluginChildren(t); len(kids) != 0 {
		t.Errorf("plugin processes left running after Scan: %v", kids)
	}
}

func TestScanConflict(t *testing.T) {
	bin := testkit.Build(t, testkit.FilePlugin)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "adf-plugin-file"), filepath.Join(dir, "adf-plugin-file2")
	for _, p := range []string{second, first} {
		if err := os.Symlink(bin, p); err != nil {
			t.Fatal(err)
		}
	}
	reg := scan(t, dir)
	for _, k := range []sdk.Kind{sdk.KindSource, sdk.KindSink} {
		e, err := reg.Lookup(k, "file")
		if err != nil {
			t.Fatal(err)
		}
		if e.Plugin.Path != first {
			t.Errorf("%s file is provided by %s, want the first in name order, %s", k, e.Plugin.Path, first)
		}
	}
	probs := reg.Problems()
	if len(probs) != 2 {
		t.Fatalf("problems %v, want one conflict per component (source, sink)", probs)
	}
	kinds := map[string]bool{}
	for _, p := range probs {
		msg := p.Err.Error()
		if p.Path != second || !strings.Contains(msg, first) || !strings.Contains(msg, second) || !strings.Contains(msg, "keeping") {
			t.Errorf("conflict problem %s: %v; want it on %s, naming both binaries", p.Path, msg, second)
		}
		for _, k := range []string{"source", "sink"} {
			if strings.HasPrefix(msg, k+` type "file" is provided by both`) {
				kinds[k] = true
			}
		}
	}
	if !kinds["source"] || !kinds["sink"] {
		t.Errorf("conflicts %v, want the source and the sink", probs)
	}
}

func TestLookupMissing(t *testing.T) {
	dir := testkit.PluginDir(t, testkit.FilePlugin)
	reg, err := builtin.Registry(ctx(t), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)

	cases := []struct {
		kind      sdk.Kind
		typ       string
		installed []string
		closest   string
		mentions  []string
	}{
		{sdk.KindSource, "fil", []string{"file"}, "file",
			[]string{`source type "fil" is not installed`, "searched " + dir, "installed sources: file", `did you mean "file"?`, "adf-plugin-<name> into " + dir}},
		{sdk.KindTransform, "fitler", []string{"cast", "filter", "rename", "select"}, "filter",
			[]string{`did you mean "filter"?`, "installed transforms: cast, filter, rename, select"}},
		{sdk.KindSink, "postgres", []string{"file"}, "",
			[]string{`sink type "postgres" is not installed`, `bundled plugin "sql"`,
				"go build -o " + dir + "/adf-plugin-sql ./plugins/sql/cmd/adf-plugin-sql", "scripts/build-plugins.sh"}},
		{sdk.KindSource, "kafka-connect-thing", []string{"file"}, "",
			[]string{"To install a plugin", "ADF_PLUGIN_DIR"}},
	}
	for _, c := range cases {
		t.Run(string(c.kind)+"/"+c.typ, func(t *testing.T) {
			_, err := reg.Lookup(c.kind, c.typ)
			var me *registry.MissingError
			if !errors.As(err, &me) {
				t.Fatalf("Lookup error %v (%T), want *MissingError", err, err)
			}
			if me.Kind != c.kind || me.Type != c.typ || me.Dir != dir || !reflect.DeepEqual(me.Installed, c.installed) || me.Closest != c.closest {
				t.Errorf("MissingError %+v, want installed %v, closest %q", me, c.installed, c.closest)
			}
			for _, m := range c.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message does not mention %q: %s", m, err)
				}
			}
			if c.closest == "" && strings.Contains(err.Error(), "did you mean") {
				t.Errorf("a suggestion for an unrelated name: %s", err)
			}
		})
	}

	// Builtins resolve too, and have no process to launch.
	e, err := reg.Lookup(sdk.KindTransform, "filter")
	if err != nil || !e.Builtin() {
		t.Fatalf("Lookup(transform, filter) = %+v, %v; want the builtin", e, err)
	}
	if _, err := reg.Launch(ctx(t), e); err == nil {
		t.Error("Launch of a builtin succeeded")
	}
}

func TestLaunchAndKill(t *testing.T) {
	reg := scan(t, testkit.PluginDir(t, testkit.FilePlugin))
	e, err := reg.Lookup(sdk.KindSource, "file")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := reg.Launch(ctx(t), e)
	if err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			inst.Kill()
		}
	}()
	pid := inst.Pid()
	if pid <= 0 {
		t.Fatalf("Pid() = %d", pid)
	}
	if state, comm, ok := procState(pid); !ok || state == 'Z' || comm != "adf-plugin-file" {
		t.Fatalf("pid %d: state %c, comm %q, exists %v; want a live adf-plugin-file", pid, state, comm, ok)
	}
	if inst.Exited() {
		t.Fatal("Exited() before Kill")
	}
	// The process answers on its connection.
	resp, err := inst.Plugin().Describe(ctx(t), &adfv1.Describe_Request{HostProtocolVersion: sdk.ProtocolVersion})
	if err != nil || resp.GetManifest().GetName() != "file" {
		t.Fatalf("Describe: %v, %v", resp, err)
	}
	// A config is validated by the live process, with field paths.
	if err := reg.ValidateConfig(ctx(t), e, []byte(`{"path": "x.csv", "bogus": 1}`)); err == nil || !strings.Contains(err.Error(), "bogus: unknown field") {
		t.Errorf("ValidateConfig of a bad config: %v", err)
	}
	if err := reg.ValidateConfig(ctx(t), e, []byte(`{"path": "x.csv"}`)); err != nil {
		t.Errorf("ValidateConfig of a good config: %v", err)
	}

	inst.Kill()
	killed = true
	if !inst.Exited() {
		t.Error("Exited() is false after Kill")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		state, comm, ok := procState(pid)
		if !ok || state == 'Z' || comm != "adf-plugin-file" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %d still running 5s after Kill", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Kill waits for the process: it is reaped, not a zombie.
	if _, comm, ok := procState(pid); ok && comm == "adf-plugin-file" {
		t.Errorf("plugin %d not reaped after Kill", pid)
	}
}

// The plugin process gets only an allow-list of the host's environment.
func TestLaunchEnvironment(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(t.TempDir(), "env")
	// A script that records its environment, then fails the handshake.
	writeFile(t, filepath.Join(dir, "adf-plugin-env"), "#!/bin/sh\nenv > "+envFile+"\nexit 1\n", 0o755)
	t.Setenv("ADF_TEST_SECRET", "hunter2")
	t.Setenv("ADF_DATA_DIR", "/some/data")
	reg := scan(t, dir)
	if len(reg.Problems()) != 1 {
		t.Fatalf("problems %v, want the env script", reg.Problems())
	}
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := string(data)
	if strings.Contains(env, "hunter2") {
		t.Errorf("a host variable outside the allow-list reached the plugin:\n%s", env)
	}
	for _, want := range []string{"ADF_DATA_DIR=/some/data", "PATH="} {
		if !strings.Contains(env, want) {
			t.Errorf("plugin environment lacks %s:\n%s", want, env)
		}
	}
}

func TestMissingPluginsDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "does-not-exist")
	reg := scan(t, dir)
	if len(reg.Entries()) != 0 || len(reg.Plugins()) != 0 || len(reg.Problems()) != 0 {
		t.Fatalf("a missing directory should give an empty registry: %v %v %v", reg.Entries(), reg.Plugins(), reg.Problems())
	}
	_, err := reg.Lookup(sdk.KindSource, "file")
	var me *registry.MissingError
	if !errors.As(err, &me) || len(me.Installed) != 0 || !strings.Contains(err.Error(), "installed sources: none") || !strings.Contains(err.Error(), dir) {
		t.Errorf("Lookup in an empty registry: %v", err)
	}

	// With the builtins registered: exactly those.
	reg, err = builtin.Registry(ctx(t), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	var got []string
	for _, e := range reg.Entries() {
		if !e.Builtin() {
			t.Errorf("%s %s is not a builtin", e.Kind, e.Type)
		}
		got = append(got, string(e.Kind)+" "+e.Type)
	}
	want := []string{"runtime host", "transform cast", "transform filter", "transform rename", "transform select"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}

	// A plugins "directory" that is a file is an error.
	file := filepath.Join(t.TempDir(), "plugins")
	writeFile(t, file, "", 0o644)
	if err := registry.New(file, nil).Scan(ctx(t)); err == nil {
		t.Error("Scan of a file instead of a directory succeeded")
	}
}

// A type that differs from an installed one by a replaced letter is another
// product (kafka is not rafka): the error lists what is installed and
// guesses nothing. A slip of the fingers is still suggested.
func TestLookupSuggestsOnlyTypos(t *testing.T) {
	reg := registry.New(t.TempDir(), nil)
	for _, typ := range []string{"rafka", "file", "postgres", "redis_cache"} {
		reg.AddBuiltin(sdk.KindSink, typ, typ, nil)
	}
	cases := []struct{ typ, closest, tail string }{
		{"kafka", "", ")"},
		{"postgresql", "postgres", `); did you mean "postgres"?`},
		{"rafak", "rafka", `); did you mean "rafka"?`},
		{"redis-cache", "redis_cache", `); did you mean "redis_cache"?`},
		{"Rafka", "rafka", `); did you mean "rafka"?`},
		{"fire", "", ")"},
	}
	for _, c := range cases {
		_, err := reg.Lookup(sdk.KindSink, c.typ)
		var me *registry.MissingError
		if !errors.As(err, &me) {
			t.Fatalf("Lookup(%q): %v, want a *MissingError", c.typ, err)
		}
		head := fmt.Sprintf(`sink type %q is not installed (searched %s; installed sinks: file, postgres, rafka, redis_cache`, c.typ, reg.Dir())
		if me.Closest != c.closest || !strings.HasPrefix(err.Error(), head+c.tail+" ") {
			t.Errorf("Lookup(%q): closest %q, message %q; want closest %q and the message to start %q", c.typ, me.Closest, err, c.closest, head+c.tail)
		}
	}
}

// A plugin whose config check never returns does not hold validation up:
// the host gives up after ValidateTimeout and says so.
func TestValidateConfigTimeout(t *testing.T) {
	defer func(d time.Duration) { registry.ValidateTimeout = d }(registry.ValidateTimeout)
	registry.ValidateTimeout = time.Second
	reg := scan(t, testkit.PluginDir(t, "host/registry/testdata/adf-plugin-stuck"))
	e, err := reg.Lookup(sdk.KindSink, "stuck")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = reg.CheckConfig(ctx(t), e, []byte(`{"path": "x"}`))
	var se *sdk.Error
	want := `plugin stuck did not validate the sink "stuck" config within 1s (its checks of what the config names may be stuck on a named pipe or an unreachable network file system; report it to the plugin's authors)`
	if !errors.As(err, &se) || se.Code != sdk.CodeUnavailable || err.Error() != want {
		t.Errorf("CheckConfig: %v, want %s: %s", err, sdk.CodeUnavailable, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("CheckConfig took %s", d)
	}
}

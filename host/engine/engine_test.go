package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/internal/testkit/hostkit"
	"github.com/activedataflow/adf/sdk/flow"
)

func newRegistry(t testing.TB, pkgs ...string) *registry.Registry {
	t.Helper()
	return hostkit.Registry(t, pkgs...)
}

// writeOrders writes n generated order rows as CSV and returns their
// canonical forms.
func writeOrders(t testing.TB, path string, n int) []string {
	t.Helper()
	return testkit.Canon(testkit.WriteOrdersCSV(t, path, 1, n))
}

func csvToJSONL(name, in, out string, parallelism int) *flow.Flow {
	return &flow.Flow{
		Name:        name,
		Source:      flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q, "format": "csv", "split_size": 2000000}`, in))},
		Parallelism: parallelism,
		Sink:        flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
	}
}

func TestMillionRowsCSVToJSONLines(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "orders.csv"), filepath.Join(dir, "out", "orders.jsonl")
	want := writeOrders(t, in, 1_000_000)
	reg := newRegistry(t, testkit.FilePlugin)
	eng := engine.New(engine.Options{Registry: reg, DataDir: dir})
	res, err := eng.Run(context.Background(), csvToJSONL("million", in, out, 4), "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.RowsRead != 1_000_000 || res.Stats.RowsWritten != 1_000_000 || res.Stats.RowsRejected != 0 {
		t.Fatalf("stats = %+v, want 1e6 read and written", res.Stats)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), want)
	// The temp file is gone once the output is published.
	if tmp, _ := filepath.Glob(filepath.Join(dir, "out", ".*")); len(tmp) > 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}

// Kill -9 a plugin process mid-run, after the first checkpoint: the engine
// restarts the attempt from that checkpoint and the output is still exact.
func TestKillPluginMidRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "orders.csv")
	want := writeOrders(t, in, 1_000_000)
	reg := newRegistry(t, testkit.FilePlugin)
	for _, role := range []string{"source", "sink"} {
		t.Run(role, func(t *testing.T) {
			out := filepath.Join(dir, role+".jsonl")
			var mu sync.Mutex
			pids := map[string][]int{}
			killed := 0
			f := csvToJSONL("killed-"+role, in, out, 4)
			f.Checkpoint = &flow.Checkpoint{Every: 150_000_000} // 150ms
			eng := engine.New(engine.Options{Registry: reg, DataDir: dir, OnEvent: func(ev engine.Event) {
				mu.Lock()
				defer mu.Unlock()
				switch ev.Kind {
				case "plugin_started":
					pids[ev.Role] = append(pids[ev.Role], ev.Pid)
				case "checkpoint":
					// After the first committed checkpoint, kill -9 the
					// plugin process while rows are in flight.
					if ev.Checkpoint.ID == 1 && !ev.Checkpoint.Final && killed == 0 {
						killed = pids[role][0]
						if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
							t.Errorf("kill %d: %v", killed, err)
						}
					}
				}
			}})
			res, err := eng.Run(context.Background(), f, "run-kill")
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if killed == 0 {
				t.Fatal("the plugin was never killed: the run ended before its first checkpoint")
			}
			if res.Stats.Restarts < 1 || len(pids[role]) < 2 {
				t.Fatalf("expected a restart with a new %s process, got restarts=%d pids=%v", role, res.Stats.Restarts, pids[role])
			}
			if res.Stats.RowsRead != 1_000_000 || res.Stats.RowsWritten != 1_000_000 {
				t.Fatalf("stats = %+v, want exactly 1e6 read and written", res.Stats)
			}
			testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), want)
		})
	}
}

func TestMissingSourceTypeFailsBeforeStart(t *testing.T) {
	dir := t.TempDir()
	reg := newRegistry(t, testkit.FilePlugin)
	out := filepath.Join(dir, "never.jsonl")
	f := csvToJSONL("missing", filepath.Join(dir, "in.csv"), out, 1)
	f.Source.Type = "fil"
	started := false
	eng := engine.New(engine.Options{Registry: reg, DataDir: dir, OnEvent: func(ev engine.Event) {
		if ev.Kind == "plugin_started" {
			started = true
		}
	}})
	_, err := eng.Run(context.Background(), f, "run-missing")
	if err == nil {
		t.Fatal("run with an uninstalled source type succeeded")
	}
	msg := err.Error()
	for _, want := range []string{`source type "fil" is not installed`, reg.Dir(), `did you mean "file"?`, "installed sources: file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if started {
		t.Error("a plugin process was started for a flow that cannot run")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output exists: %v", err)
	}
}

package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk/flow"
)

func newRegistry(t testing.TB, pkgs ...string) *registry.Registry {
	t.Helper()
	reg, err := builtin.Registry(context.Background(), testkit.PluginDir(t, pkgs...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := reg.Problems(); len(p) > 0 {
		t.Fatalf("plugin problems: %v", p)
	}
	return reg
}

// writeOrders writes n generated rows (id, name, amount, ts) as CSV and
// returns the canonical form of each row, for an order-insensitive compare.
func writeOrders(t testing.TB, path string, n int) []string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,name,amount,ts")
	rng := rand.New(rand.NewSource(42))
	names := []string{"alice", "bob", `"smith, jr"`, "zoë", `"say ""hi"""`}
	plain := []string{"alice", "bob", "smith, jr", "zoë", `say "hi"`}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		k := rng.Intn(len(names))
		cents := rng.Intn(1000000)
		amount := fmt.Sprintf("%d.%02d", cents/100, cents%100)
		ts := base.Add(time.Duration(i) * time.Second)
		fmt.Fprintf(w, "%d,%s,%s,%s\n", i, names[k], amount, ts.Format(time.RFC3339))
		want = append(want, canon(int64(i), plain[k], amount, ts))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}

func canon(id int64, name, amount string, ts time.Time) string {
	var a float64
	fmt.Sscan(amount, &a)
	return fmt.Sprintf("%d|%s|%.2f|%s", id, name, a, ts.UTC().Format(time.RFC3339))
}

// readJSONL reads the sink's output in canonical form.
func readJSONL(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row struct {
			ID     int64   `json:"id"`
			Name   string  `json:"name"`
			Amount float64 `json:"amount"`
			TS     string  `json:"ts"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		ts, err := time.Parse(time.RFC3339Nano, row.TS)
		if err != nil {
			t.Fatalf("bad ts in %q: %v", sc.Text(), err)
		}
		out = append(out, fmt.Sprintf("%d|%s|%.2f|%s", row.ID, row.Name, row.Amount, ts.UTC().Format(time.RFC3339)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameRows compares two multisets of rows and reports the first differences.
func sameRows(t *testing.T, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	var extra []string
	for _, g := range got {
		if count[g] == 0 {
			extra = append(extra, g)
			continue
		}
		count[g]--
	}
	var missing []string
	for k, c := range count {
		for ; c > 0; c-- {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(extra) > 0 || len(missing) > 0 || len(got) != len(want) {
		t.Fatalf("output differs from input: got %d rows, want %d; %d unexpected/duplicated (first %v), %d missing (first %v)",
			len(got), len(want), len(extra), first(extra), len(missing), first(missing))
	}
}

func first(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
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
	sameRows(t, readJSONL(t, out), want)
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
			sameRows(t, readJSONL(t, out), want)
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

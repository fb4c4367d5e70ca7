package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// A plugin written only against sdk/ (sdk/examples/sequence) is built, found
// by the registry and run by the engine: its source, with checkpoints, and
// its transform, out of process.
func TestThirdPartyPluginFromSDK(t *testing.T) {
	const seqPlugin = "sdk/examples/sequence/cmd/adf-plugin-sequence"
	reg := newRegistry(t, testkit.FilePlugin, seqPlugin)
	for _, k := range []struct {
		kind sdk.Kind
		typ  string
	}{{sdk.KindSource, "sequence"}, {sdk.KindTransform, "square"}} {
		e, err := reg.Lookup(k.kind, k.typ)
		if err != nil {
			t.Fatal(err)
		}
		if e.Plugin.Name != "sequence" || e.Builtin() {
			t.Fatalf("%s %s provided by %+v", k.kind, k.typ, e.Plugin)
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "squares.jsonl")
	const n = 25_000
	f := &flow.Flow{
		Name:        "squares",
		Source:      flow.Component{Type: "sequence", Config: json.RawMessage(fmt.Sprintf(`{"count": %d, "splits": 7, "batch_size": 500}`, n))},
		Parallelism: 3,
		Transforms:  []flow.Component{{Type: "square"}, {Type: "filter", Config: json.RawMessage(`{"expr": "n % 2 == 0"}`)}},
		Sink:        flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
		Checkpoint:  &flow.Checkpoint{Every: sdk.Duration(20_000_000)},
	}
	res, err := engine.New(engine.Options{Registry: reg, DataDir: dir}).Run(context.Background(), f, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.RowsRead != n || res.Stats.RowsWritten != n/2 {
		t.Fatalf("stats %+v, want %d read, %d written", res.Stats, n, n/2)
	}
	file, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	seen := map[int64]bool{}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		var row struct{ N, Square int64 }
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		if row.Square != row.N*row.N || row.N%2 != 0 || seen[row.N] {
			t.Fatalf("bad or duplicate row %s", sc.Text())
		}
		seen[row.N] = true
	}
	if len(seen) != n/2 {
		t.Fatalf("got %d distinct rows, want %d", len(seen), n/2)
	}
}

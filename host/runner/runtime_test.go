package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/internal/testkit/hostkit"
	"github.com/activedataflow/adf/sdk/flow"
)

const sequencePlugin = "sdk/examples/sequence/cmd/adf-plugin-sequence"

// Several runtimes serve one host: a flow on the built-in host runtime and a
// flow on a runtime plugin (the SDK example's `inline`, resolved by type
// through the registry) run side by side; a flow the runtime cannot run is
// refused with its reason and not retried.
func TestRuntimePlugins(t *testing.T) {
	reg := hostkit.Registry(t, testkit.FilePlugin, sequencePlugin)
	s := stores(t)["sqlite"](t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("id\n1\n2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	onHost := fileFlow("on_host", in, filepath.Join(dir, "host.jsonl"))
	onPlugin := &flow.Flow{
		Name:    "on_plugin",
		Source:  flow.Component{Type: "sequence", Config: json.RawMessage(`{"count": 1234}`)},
		Sink:    flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "inline.jsonl")))},
		Runtime: &flow.Component{Type: "inline"},
	}
	refused := fileFlow("refused", in, filepath.Join(dir, "refused.jsonl"))
	refused.Runtime = &flow.Component{Type: "inline"}
	ctx := context.Background()
	for _, f := range []*flow.Flow{onHost, onPlugin, refused} {
		if _, _, err := s.ApplyFlow(ctx, f, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r := newRunner(t, s, reg, 3)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer r.Stop(ctx)
	ids := map[string]int64{}
	for _, name := range []string{"on_host", "on_plugin", "refused"} {
		id, err := r.Trigger(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	waitRuns(t, s, 3, 2*time.Minute)
	get := func(name string) *store.Run {
		run, err := s.GetRun(ctx, ids[name])
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	if run := get("on_host"); run.Status != store.StatusSuccess || run.RecordsWritten != 3 {
		t.Fatalf("host runtime run: %+v", run)
	}
	if run := get("on_plugin"); run.Status != store.StatusSuccess || run.RecordsRead != 1234 || run.RecordsWritten != 1234 {
		t.Fatalf("inline runtime run: %+v", run)
	}
	data, err := os.ReadFile(filepath.Join(dir, "inline.jsonl"))
	if err != nil || strings.Count(string(data), "\n") != 1234 || !strings.HasSuffix(string(data), "{\"n\":1233}\n") {
		t.Fatalf("inline runtime output: %d lines, %v", strings.Count(string(data), "\n"), err)
	}
	run := get("refused")
	if run.Status != store.StatusFailed || run.Attempt != 1 || !strings.Contains(run.ErrorMessage, "runs only sequence → file flows") {
		t.Fatalf("refused run: status %s attempt %d error %q; want failed on attempt 1 with the runtime's reason", run.Status, run.Attempt, run.ErrorMessage)
	}
}

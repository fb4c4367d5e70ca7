package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/internal/testkit/hostkit"
	"github.com/activedataflow/adf/sdk/flow"
)

// The runner keeps the tracker's snapshot of each run it executes, on the
// host runtime (from the engine's events) and on a runtime plugin (from the
// job's status), until the run's outcome is observed; then the run leaves
// the tracker.
func TestRunProgressTracked(t *testing.T) {
	reg := hostkit.Registry(t, testkit.FilePlugin, sequencePlugin)
	s := stores(t)["sqlite"](t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("id\n1\n2\n3\n4\n5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	onHost := fileFlow("on_host", in, filepath.Join(dir, "host.jsonl"))
	onHost.Parallelism = 2
	onPlugin := &flow.Flow{
		Name:    "on_plugin",
		Source:  flow.Component{Type: "sequence", Config: json.RawMessage(`{"count": 777}`)},
		Sink:    flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "inline.jsonl")))},
		Runtime: &flow.Component{Type: "inline"},
	}
	ctx := context.Background()
	for _, f := range []*flow.Flow{onHost, onPlugin} {
		if _, _, err := s.ApplyFlow(ctx, f, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	tr := progress.New()
	var mu sync.Mutex
	atEnd := map[string]progress.Snapshot{}
	r, err := runner.New(runner.Options{Store: s, Registry: reg, DataDir: t.TempDir(), Workers: 2, Progress: tr,
		RetryBackoff: 200 * time.Millisecond, PollInterval: 100 * time.Millisecond,
		Observe: func(run *store.Run, _ time.Duration, _ error) {
			snap, ok := tr.Get(run.ID)
			if !ok {
				t.Errorf("run %d is not tracked when its outcome is observed", run.ID)
				return
			}
			mu.Lock()
			atEnd[run.FlowName] = snap
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer r.Stop(ctx)
	for _, name := range []string{"on_host", "on_plugin"} {
		if _, err := r.Trigger(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	for _, run := range waitRuns(t, s, 2, 2*time.Minute) {
		if run.Status != store.StatusSuccess {
			t.Fatalf("run %d of %s: %s %s", run.ID, run.FlowName, run.Status, run.ErrorMessage)
		}
	}
	// The tracker lets a run go right after its outcome is observed.
	deadline := time.Now().Add(30 * time.Second)
	for len(tr.List()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("runs still tracked after they ended: %+v", tr.List())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	h := atEnd["on_host"]
	if h.Flow != "on_host" || h.Readers != 2 || h.RowsRead != 5 || h.RowsWritten != 5 || h.Checkpoints < 1 || h.LastCheckpointAt == nil {
		t.Fatalf("host run's last snapshot: %+v", h)
	}
	p := atEnd["on_plugin"]
	if p.Flow != "on_plugin" || p.RowsRead != 777 || p.RowsWritten != 777 {
		t.Fatalf("runtime plugin run's last snapshot: %+v", p)
	}
}

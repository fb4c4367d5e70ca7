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

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

func registryWith(t testing.TB, pkgs ...string) *registry.Registry {
	t.Helper()
	reg, err := builtin.Registry(context.Background(), testkit.PluginDir(t, pkgs...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// stores opens a migrated store of each kind: a fresh PostgreSQL database
// and a fresh SQLite file.
func stores(t *testing.T) map[string]func(t *testing.T) *store.Store {
	open := func(t *testing.T, url string) *store.Store {
		s, err := store.Open(context.Background(), url, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}
	return map[string]func(t *testing.T) *store.Store{
		"postgres": func(t *testing.T) *store.Store { return open(t, testkit.NewDatabase(t)) },
		"sqlite":   func(t *testing.T) *store.Store { return open(t, "") },
	}
}

func newRunner(t *testing.T, s *store.Store, reg *registry.Registry, workers int) *runner.Runner {
	t.Helper()
	r, err := runner.New(runner.Options{Store: s, Registry: reg, DataDir: t.TempDir(), Workers: workers,
		RetryBackoff: 200 * time.Millisecond, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func fileFlow(name, in, out string) *flow.Flow {
	return &flow.Flow{
		Name:     name,
		Source:   flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, in))},
		Sink:     flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
		Schedule: &flow.Schedule{Every: sdk.Duration(time.Hour)},
	}
}

func waitRuns(t *testing.T, s *store.Store, want int, timeout time.Duration) []*store.Run {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		runs, err := s.ListRuns(context.Background(), "", want+10)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, r := range runs {
			if r.Status == store.StatusSuccess || r.Status == store.StatusFailed {
				done++
			}
		}
		if done >= want {
			return runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs finished after %s", done, want, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// 32 concurrent heartbeats against 1,000 due flows: every flow gets exactly
// one run and one job, and every run executes once and succeeds.
func TestConcurrentHeartbeats(t *testing.T) {
	reg := registryWith(t, testkit.FilePlugin)
	const flows, beats = 1000, 32
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			dir := t.TempDir()
			in := filepath.Join(dir, "in.csv")
			if err := os.WriteFile(in, []byte("id,v\n1,a\n2,b\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			now := time.Now()
			for i := 0; i < flows; i++ {
				if _, _, err := s.ApplyFlow(ctx, fileFlow(fmt.Sprintf("f%04d", i), in, filepath.Join(dir, fmt.Sprintf("out-%04d.jsonl", i))), now); err != nil {
					t.Fatal(err)
				}
			}
			r := newRunner(t, s, reg, 8)
			var wg sync.WaitGroup
			results := make([]store.HeartbeatResult, beats)
			errs := make([]error, beats)
			for i := 0; i < beats; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = r.Heartbeat(ctx, time.Now())
				}()
			}
			wg.Wait()
			triggered := map[string]int{}
			for i := range results {
				if errs[i] != nil {
					t.Fatalf("heartbeat %d: %v", i, errs[i])
				}
				for _, f := range results[i].Triggered {
					triggered[f]++
				}
			}
			if len(triggered) != flows {
				t.Fatalf("%d flows triggered, want %d", len(triggered), flows)
			}
			for f, n := range triggered {
				if n != 1 {
					t.Fatalf("flow %s triggered %d times", f, n)
				}
			}
			// A later heartbeat finds nothing due: every flow has a run pending.
			again, err := r.Heartbeat(ctx, time.Now())
			if err != nil || again.Due != 0 {
				t.Fatalf("second heartbeat: %+v, %v; want nothing due", again, err)
			}
			if err := r.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer r.Stop(ctx)
			runs := waitRuns(t, s, flows, 5*time.Minute)
			counts, err := s.RunCountsByFlow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(counts) != flows {
				t.Fatalf("%d flows have runs, want %d", len(counts), flows)
			}
			for f, n := range counts {
				if n != 1 {
					t.Fatalf("flow %s has %d runs", f, n)
				}
			}
			for _, run := range runs {
				if run.Status != store.StatusSuccess || run.Attempt != 1 || run.RecordsWritten != 2 {
					t.Fatalf("run %+v: want success on attempt 1 with 2 rows", run)
				}
			}
		})
	}
}

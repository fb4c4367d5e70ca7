package localrun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/activedataflow/adf/host/engine"
)

func TestRunStateSurvivesTheProcess(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if s.Unfinished() != nil {
		t.Fatal("a new data directory has an unfinished run")
	}
	if _, err := Open(dir, "orders"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second Open of a locked flow: %v, want ErrBusy", err)
	}
	cfg := []byte(`{"name":"orders","parallelism":2}`)
	if err := s.Begin("run-1", cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "orders", "run-2", &engine.Checkpoint{ID: 1}, nil); err == nil {
		t.Fatal("Save accepted a checkpoint of another run")
	}
	if err := s.Save(ctx, "orders", "run-1", &engine.Checkpoint{ID: 3, Sink: []byte("state")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A later process finds the run, its config and its checkpoint.
	s2, err := Open(dir, "orders")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	run := s2.Unfinished()
	if run == nil || run.RunID != "run-1" || run.Checkpoint == nil || run.Checkpoint.ID != 3 || string(run.Checkpoint.Sink) != "state" {
		t.Fatalf("unfinished run after reopening: %+v", run)
	}
	if !run.SameConfig([]byte(`{ "name": "orders", "parallelism": 2 }`)) || run.SameConfig([]byte(`{"name":"orders","parallelism":3}`)) {
		t.Error("SameConfig does not compare the configs as JSON")
	}
	if cp, err := s2.Latest(ctx, "orders", "run-1"); err != nil || cp == nil || cp.ID != 3 {
		t.Errorf("Latest = %+v, %v", cp, err)
	}
	if cp, _ := s2.Latest(ctx, "orders", "run-9"); cp != nil {
		t.Errorf("Latest of another run = %+v, want none", cp)
	}
	if err := s2.Finish(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", "orders.json")); !os.IsNotExist(err) {
		t.Errorf("Finish left the run state (%v)", err)
	}
	if s2.Unfinished() != nil {
		t.Error("a finished run is still unfinished")
	}
}

func TestDamagedRunStateSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "runs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "runs", "orders.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, "orders")
	if err == nil || !strings.Contains(err.Error(), "delete it to start the flow over") {
		t.Fatalf("Open of a damaged run state: %v", err)
	}
}

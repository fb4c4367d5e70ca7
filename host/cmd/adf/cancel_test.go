package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

// Cancelling a run in progress stops it at its host's next lease renewal
// and records it cancelled; a second cancel answers 409, an unknown run 404.
func TestServeCancelRun(t *testing.T) {
	work, dataDir := t.TempDir(), t.TempDir()
	h := svcStart(t, svcConfig{dataDir: dataDir, pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: work,
		adminToken: "admin-tok", args: []string{"--tick", "0", "--lease-ttl", "3s"}})
	stream := filepath.Join(work, "stream")
	if err := os.MkdirAll(stream, 0o755); err != nil {
		t.Fatal(err)
	}
	h.applyFlow(map[string]any{"name": "forever",
		"source": map[string]any{"type": "file", "config": map[string]any{"path": stream, "mode": "continuous", "discover_interval": "100ms"}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "out") + "/"}}})
	var run store.Run
	if code, body := h.api("POST", "/v1/flows/forever/runs", nil, &run); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	h.waitRunStatus(run.ID, 30*time.Second, store.StatusInProgress)
	asked := time.Now()
	var cancelled store.Run
	if code, body := h.api("POST", fmt.Sprintf("/v1/runs/%d/cancel", run.ID), nil, &cancelled); code != 202 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	got := h.waitRunStatus(run.ID, 30*time.Second, store.StatusCancelled)
	t.Logf("run %d cancelled %s after the request", run.ID, time.Since(asked).Round(time.Millisecond))
	if got.ErrorMessage != store.ErrCancelRequested.Error() || got.EndedAt == nil {
		t.Fatalf("cancelled run: error %q, ended %v; want %q and an end time", got.ErrorMessage, got.EndedAt, store.ErrCancelRequested)
	}
	if code, body := h.api("POST", fmt.Sprintf("/v1/runs/%d/cancel", run.ID), nil, nil); code != 409 {
		t.Fatalf("second cancel: %d %s, want 409", code, body)
	}
	if code, body := h.api("POST", "/v1/runs/999999/cancel", nil, nil); code != 404 {
		t.Fatalf("cancel of an unknown run: %d %s, want 404", code, body)
	}
}

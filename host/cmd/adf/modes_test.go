package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/activedataflow/adf/internal/testkit"
)

// The data directory holds flow configs with their credentials, raw
// rejected records and the admin token: adf serve keeps it 0700 and its
// files 0600, tightening what was there before (a data directory made with
// 0755 and a token file written by hand with 0644).
func TestDataDirectoryIsPrivate(t *testing.T) {
	work := t.TempDir()
	data := filepath.Join(work, "adf-data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	const token = "a-token-written-by-hand-0123456789"
	tokenFile := filepath.Join(data, "admin-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tokenFile, 0o644); err != nil {
		t.Fatal(err)
	}
	h := svcStart(t, svcConfig{dataDir: data, pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: work, args: []string{"--tick", "0"}})
	if h.admin != token {
		t.Fatalf("the host uses admin token %q, want the one in %s", h.admin, tokenFile)
	}
	in := filepath.Join(work, "in.csv")
	if err := os.WriteFile(in, []byte("id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.applyFlow(map[string]any{"name": "modes",
		"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "out.jsonl")}}})
	if code, body := h.api("GET", "/v1/flows", nil, nil); code != 200 {
		t.Fatalf("GET /v1/flows with the hand-written token: %d %s", code, body)
	}
	want := map[string]os.FileMode{data: 0o700, tokenFile: 0o600, filepath.Join(data, "adf.db"): 0o600}
	if _, err := os.Stat(filepath.Join(data, "adf.db-wal")); err == nil {
		want[filepath.Join(data, "adf.db-wal")] = 0o600
	} else {
		t.Errorf("no WAL file beside the store after a write: %v", err)
	}
	for path, mode := range want {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != mode {
			t.Errorf("%s has mode %o, want %o", path, got, mode)
		}
	}
}

package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
)

// The README's first command, as a newcomer runs it: scripts/quickstart.sh
// builds adf and the plugins, serves the sample flow on SQLite with the
// ticker, and prints the run and its output. (It writes ./bin, ./plugins,
// ./adf-data and ./out of the repository, all ignored by git.)
func TestQuickstartScript(t *testing.T) {
	root := testkit.RepoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "quickstart.sh"))
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "ADF_LISTEN="+svcFreePort(t), "ADF_DATA_DIR="+filepath.Join(t.TempDir(), "quickstart"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/quickstart.sh: %v\n%s", err, out)
	}
	for _, want := range []string{
		"rows read 500  written 361  rejected 1",
		`{"id":1,"customer":"Linus","total":132.91,"ordered_at":"2026-01-01T00:37:00Z"}`,
		"rejected rows: out/big_orders.rejected.jsonl (1 line)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the quickstart's output does not show %q\n%s", want, out)
		}
	}
}

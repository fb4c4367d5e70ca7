package registry_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

// A process that validated a config is the one the next Launch of its
// binary gets (adf run validates, then starts the same components); one
// nobody takes is stopped after a while, and Close stops those kept.
func TestValidatedProcessIsReused(t *testing.T) {
	dir := t.TempDir()
	starts := counted(t, dir, "adf-plugin-file", testkit.Build(t, testkit.FilePlugin), 0)
	reg := scan(t, dir)
	e, err := reg.Lookup(sdk.KindSource, "file")
	if err != nil {
		t.Fatal(err)
	}
	described := testkit.Starts(t, starts) // the scan's
	cfg := []byte(`{"path": "x.csv"}`)

	if err := reg.ValidateConfig(ctx(t), e, cfg); err != nil {
		t.Fatal(err)
	}
	inst, err := reg.Launch(ctx(t), e)
	if err != nil {
		t.Fatal(err)
	}
	if n := testkit.Starts(t, starts) - described; n != 1 {
		t.Fatalf("validate then launch started %d processes, want 1 (the validating one reused)", n)
	}
	if kids := pluginChildren(t); len(kids) != 1 {
		t.Fatalf("plugin processes %v, want the one launched", kids)
	}
	inst.Kill()

	// A bad config's process is not kept: it answered, but the run will
	// not come. A good config's, untaken, is stopped after a while.
	if err := reg.ValidateConfig(ctx(t), e, []byte(`{"bogus": 1}`)); err == nil {
		t.Fatal("ValidateConfig of a bad config passed")
	}
	if err := reg.ValidateConfig(ctx(t), e, cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(pluginChildren(t)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if kids := pluginChildren(t); len(kids) != 0 {
		t.Fatalf("plugin processes %v still running long after their validation", kids)
	}

	// A binary replaced after the validation is started anew.
	if err := reg.ValidateConfig(ctx(t), e, cfg); err != nil {
		t.Fatal(err)
	}
	before := testkit.Starts(t, starts)
	newStarts := counted(t, dir, "adf-plugin-file.new", testkit.Build(t, testkit.FilePlugin), 0)
	if err := os.Rename(filepath.Join(dir, "adf-plugin-file.new"), filepath.Join(dir, "adf-plugin-file")); err != nil {
		t.Fatal(err)
	}
	inst, err = reg.Launch(ctx(t), e)
	if err != nil {
		t.Fatal(err)
	}
	inst.Kill()
	if old, fresh := testkit.Starts(t, starts)-before, testkit.Starts(t, newStarts); old != 0 || fresh != 1 {
		t.Fatalf("after the binary was replaced, Launch started the old one %d times and the new one %d times; want 0 and 1 (the process kept from before the replacement is not reused)", old, fresh)
	}

	if err := reg.ValidateConfig(ctx(t), e, cfg); err != nil {
		t.Fatal(err)
	}
	reg.Close()
	if kids := pluginChildren(t); len(kids) != 0 {
		t.Fatalf("plugin processes %v running after Close", kids)
	}
	if n := testkit.Starts(t, starts) - described; n != 4 {
		t.Fatalf("%d processes of the first script started in all, want 4", n)
	}
}

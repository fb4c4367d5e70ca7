package registry_test

import (
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

	if err := reg.ValidateConfig(ctx(t), e, cfg); err != nil {
		t.Fatal(err)
	}
	reg.Close()
	if kids := pluginChildren(t); len(kids) != 0 {
		t.Fatalf("plugin processes %v running after Close", kids)
	}
	if n := testkit.Starts(t, starts) - described; n != 4 {
		t.Fatalf("%d processes started in all, want 4", n)
	}
}

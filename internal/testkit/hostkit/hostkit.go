// Package hostkit holds test helpers that use the host's own packages, for
// the host's tests. Plugin tests must not import it: they test through the
// adf binary (testkit.ADF), as a third party's would.
package hostkit

import (
	"context"
	"testing"

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/internal/testkit"
)

// Registry returns the host's registry over a fresh plugins directory
// holding the given plugin packages (built with testkit.Build), failing the
// test if any plugin cannot be used.
func Registry(t testing.TB, pkgs ...string) *registry.Registry {
	t.Helper()
	reg, err := builtin.Registry(context.Background(), testkit.PluginDir(t, pkgs...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := reg.Problems(); len(p) > 0 {
		t.Fatalf("plugin problems: %v", p)
	}
	return reg
}

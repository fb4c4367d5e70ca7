package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestTaggedLoggerFields(t *testing.T) {
	var buf bytes.Buffer
	base := hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true, Level: hclog.Debug})
	ctx := WithLogFields(context.Background(), "flow", "orders")
	ctx = WithLogFields(ctx, "run", "7")
	l := newTaggedLogger(base, LogFields(ctx))
	named := l.Named("adf-plugin-file") // as go-plugin names it, before the handover
	l.setFields(append(LogFields(ctx), "component", "source:file"))
	named.Info("plugin address", "network", "unix")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	for k, want := range map[string]string{"flow": "orders", "run": "7", "component": "source:file", "network": "unix", "@message": "plugin address"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %q (line %s)", k, line[k], want, buf.Bytes())
		}
	}
	if got := LogFields(context.Background()); got != nil {
		t.Errorf("fields of a bare context: %v", got)
	}
}

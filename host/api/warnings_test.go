package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/activedataflow/adf/host/api"
	"github.com/activedataflow/adf/internal/testkit"
)

const sqlPlugin = "plugins/sql/cmd/adf-plugin-sql"

// Creating or updating a flow answers with the warnings of the plugins'
// cheap checks and saves the flow all the same.
func TestFlowWarnings(t *testing.T) {
	h := newHost(t, "sqlite", hostOptions{}, testkit.FilePlugin, sqlPlugin)
	in := filepath.Join(h.dir, "in.csv")
	if err := os.WriteFile(in, []byte("id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{
		"name":   "warned",
		"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
		"sink":   map[string]any{"type": "postgres", "config": map[string]any{"url": "postgres://app:s3cret@no-such-host.invalid:5432/db", "table": "t"}},
	}
	want := []api.Problem{{Field: "sink.config.url",
		Reason: `host "no-such-host.invalid" not found in DNS (check the host name; the flow cannot connect until it resolves where the flow runs)`}}
	for _, step := range []struct {
		method, path string
		code         int
	}{{"POST", "/v1/flows", http.StatusCreated}, {"PUT", "/v1/flows/warned", http.StatusOK}} {
		var body api.FlowApplied
		code, raw := h.do(step.method, step.path, "", doc, &body)
		if code != step.code || body.FlowRecord == nil || body.Flow.Name != "warned" || !reflect.DeepEqual(body.Warnings, want) {
			t.Fatalf("%s %s: %d %s\nwant %d, the flow and the warnings %+v", step.method, step.path, code, raw, step.code, want)
		}
		doc["description"] = "changed"
	}
	if code, raw := h.do("GET", "/v1/flows/warned", "", nil, nil); code != http.StatusOK {
		t.Errorf("GET /v1/flows/warned: %d %s, want the saved flow", code, raw)
	}
	// Without warnings the answer has no warnings key.
	doc["sink"] = map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.dir, "out.jsonl")}}
	code, raw := h.do("PUT", "/v1/flows/warned", "", doc, nil)
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); code != http.StatusOK || err != nil || keys["warnings"] != nil || keys["flow"] == nil {
		t.Errorf("PUT without warnings: %d %s, want the record without a warnings key", code, raw)
	}
}

// A body that says something twice, or more than one thing, is refused
// with the place named.
func TestFlowBodyKeyTwice(t *testing.T) {
	h := newHost(t, "sqlite", hostOptions{}, testkit.FilePlugin)
	for _, c := range []struct{ body, field, reason string }{
		{"{\"name\": \"a\",\n \"source\": {\"type\": \"file\"}, \"sink\": {\"type\": \"file\"},\n \"name\": \"b\"}",
			"name", "key given twice (at line 1, column 2 and at line 3, column 2): remove one"},
		{`{"name": "a", "source": {"type": "file"}, "sink": {"type": "file"}} {"name": "b"}`,
			"", "unexpected content after the JSON value at line 1, column 69: a document is one JSON object"},
	} {
		var body api.ErrorBody
		code, raw := h.do("POST", "/v1/flows", "", c.body, &body)
		want := []api.Problem{{Field: c.field, Reason: c.reason}}
		if code != http.StatusUnprocessableEntity || body.Error != "invalid_flow" || !reflect.DeepEqual(body.Problems, want) {
			t.Errorf("POST %s: %d %s, want 422 with problems %+v", c.body, code, raw, want)
		}
	}
}

package sdk_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/activedataflow/adf/sdk"
)

type endpoint struct {
	Host    string       `json:"host" jsonschema:"required"`
	Timeout sdk.Duration `json:"timeout,omitempty"`
}

type common struct {
	Format string `json:"format,omitempty" jsonschema:"enum=csv,enum=json"`
}

type testConfig struct {
	common
	Path      string              `json:"path" jsonschema:"required"`
	Header    bool                `json:"header,omitempty"`
	Batch     int                 `json:"batch,omitempty" jsonschema:"minimum=1"`
	Every     sdk.Duration        `json:"every,omitempty"`
	Endpoints []endpoint          `json:"endpoints,omitempty"`
	Labels    map[string]string   `json:"labels,omitempty"`
	Limits    map[string]endpoint `json:"limits,omitempty"`
}

func testComponent() sdk.Component {
	return sdk.NewSink("test", "a test sink", sdk.Capabilities{},
		func(*testConfig) (sdk.Sink, error) { return nil, nil })
}

func messages(err error) []string {
	var out []string
	for _, e := range sdk.AsErrors(err) {
		out = append(out, e.Error())
	}
	return out
}

// Every problem of a plugin config comes back at once, each with its field
// path, sorted by path.
func TestDecodeConfigReportsEveryProblem(t *testing.T) {
	_, err := testComponent().DecodeConfig([]byte(`{
		"fromat": "csv",
		"header": "yes",
		"batch": "ten",
		"every": "5 minutes",
		"endpoints": [{"host": "a", "timeout": "soon"}, {"hots": "b"}, 5],
		"labels": {"team": 7},
		"limits": {"x": {"host": "h", "timeout": 10}}
	}`))
	want := []string{
		`batch: must be an integer (got the string "ten")`,
		`endpoints[0].timeout: bad duration "soon": use a string such as "30s", "5m", "1h"`,
		`endpoints[1].host: required field is missing`,
		`endpoints[1].hots: unknown field; did you mean "host"? (allowed: host, timeout)`,
		`endpoints[2]: must be an object (got the number 5)`,
		`every: bad duration "5 minutes": use a string such as "30s", "5m", "1h"`,
		`fromat: unknown field; did you mean "format"? (allowed: batch, endpoints, every, format, header, labels, limits, path)`,
		`header: must be true or false (got the string "yes")`,
		`labels.team: must be a string (got the number 7)`,
		`limits.x.timeout: a duration must be a string such as "30s", "5m", "1h" (got the number 10)`,
		`path: required field is missing`,
	}
	if got := messages(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%q\nwant:\n%q", got, want)
	}
	for _, e := range sdk.AsErrors(err) {
		if e.Code != sdk.CodeInvalidConfig {
			t.Errorf("%v has code %s, want %s", e, e.Code, sdk.CodeInvalidConfig)
		}
	}
}

func TestDecodeConfigValid(t *testing.T) {
	v, err := testComponent().DecodeConfig([]byte(`{"path": "p", "format": "json", "every": "1m",
		"endpoints": [{"host": "a", "timeout": "2s"}], "labels": {"a": "b"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &testConfig{common: common{Format: "json"}, Path: "p", Every: sdk.Duration(time.Minute),
		Endpoints: []endpoint{{Host: "a", Timeout: sdk.Duration(2 * time.Second)}}, Labels: map[string]string{"a": "b"}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("decoded %+v, want %+v", v, want)
	}
}

// A config is one JSON object with no key twice.
func TestDecodeConfigSyntax(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`{"path": "a", "path": "b"}`, `path: key given twice (at line 1, column 2 and at line 1, column 15): remove one`},
		{"{\"endpoints\": [{\"host\": \"a\",\n \"host\": \"b\"}]}", `endpoints[0].host: key given twice (at line 1, column 17 and at line 2, column 2): remove one`},
		{`{"path": "a"} {"path": "b"}`, `unexpected content after the JSON value at line 1, column 15: a document is one JSON object`},
		{"{\"path\": \"a\",\n \"batch\": }", `not valid JSON at line 2, column 12: missing value after object key`},
		{`{"path": "a"`, `not valid JSON at line 1, column 13: unexpected end of JSON input`},
	}
	for _, c := range cases {
		_, err := testComponent().DecodeConfig([]byte(c.doc))
		if got := messages(err); len(got) != 1 || got[0] != c.want {
			t.Errorf("DecodeConfig(%s) = %q, want %q", c.doc, got, c.want)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	var v testConfig
	err := sdk.DecodeStrict([]byte(`{"path": "p", "Batch": 5, "every": 5}`), &v)
	want := []string{
		`Batch: unknown field; did you mean "batch"? (allowed: batch, endpoints, every, format, header, labels, limits, path)`,
		`every: a duration must be a string such as "30s", "5m", "1h" (got the number 5)`,
	}
	if got := messages(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
	var ce sdk.ConfigErrors
	if !errors.As(err, &ce) {
		t.Errorf("error %T, want sdk.ConfigErrors", err)
	}
	if v.Path != "p" {
		t.Errorf("path %q: the fields that decode are set", v.Path)
	}
	if err := sdk.DecodeStrict([]byte(`{}`), v); err == nil || err.Error() != "DecodeStrict needs a non-nil pointer, got sdk_test.testConfig" {
		t.Errorf("DecodeStrict of a non-pointer: %v", err)
	}
}

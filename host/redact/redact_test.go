package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"connect postgres://app:s3cr3t@db:5432/app?sslmode=disable: refused",
			"connect postgres://app:xxxxx@db:5432/app?sslmode=disable: refused"},
		{"postgres://app:p@ss@db/app", "postgres://app:xxxxx@db/app"},
		{"dial redis://:hunter22@cache:6379/0 failed", "dial redis://:xxxxx@cache:6379/0 failed"},
		{"rediss://default:hunter22@cache:6380", "rediss://default:xxxxx@cache:6380"},
		{"host=db port=5432 user=app password=s3cr3t dbname=app", "host=db port=5432 user=app password=xxxxx dbname=app"},
		{"host=db password='a b\\' c' dbname=app", "host=db password=xxxxx dbname=app"},
		{`dsn "host=db PASSWORD = s3cr3t"`, `dsn "host=db PASSWORD = xxxxx"`},
		{"postgres://db/app?user=app&password=s3cr3t&sslmode=disable", "postgres://db/app?user=app&password=xxxxx&sslmode=disable"},
		{"https://cat/v1?token=abc.def", "https://cat/v1?token=xxxxx"},
		{`{"user":"app","password":"s3\"cr3t"}`, `{"user":"app","password":"xxxxx"}`},
		{"postgres://app@db/app", "postgres://app@db/app"},
		{"mail bob@example.com at 10:00", "mail bob@example.com at 10:00"},
		{"mypassword=kept", "mypassword=kept"},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// schema of a config with annotated fields, as the SDK publishes it.
func schema(t *testing.T) []byte {
	type cfg struct {
		URL   string            `json:"url" adf:"connect,secret"`
		Token string            `json:"bearer,omitempty" adf:"secret"`
		Props map[string]string `json:"catalog_properties,omitempty" adf:"secret_keys=credential|token"`
		Table string            `json:"table,omitempty"`
	}
	c := sdk.NewSink("t", "", sdk.Capabilities{}, func(*cfg) (sdk.Sink, error) { return nil, nil })
	return c.ConfigSchema()
}

func TestConfig(t *testing.T) {
	in := json.RawMessage(`{"url":"postgres://app:s3cr3t@db/app","bearer":"tok-1234","table":"orders",
		"catalog_properties":{"credential":"client:sec-5678","token":"tok-9999","uri":"http://cat"},"api_key":"key-0000"}`)
	out, set := Config(schema(t), in)
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"url": "postgres://app:xxxxx@db/app", "bearer": "xxxxx", "table": "orders",
		"catalog_properties": map[string]any{"credential": "xxxxx", "token": "xxxxx", "uri": "http://cat"}, "api_key": "xxxxx"}
	if !jsonEqual(got, want) {
		t.Errorf("Config:\n got %v\nwant %v", got, want)
	}
	wantVals := []string{"client:sec-5678", "key-0000", "s3cr3t", "tok-1234", "tok-9999"}
	if vals := set.Values(); !jsonEqual(vals, wantVals) {
		t.Errorf("secrets %q, want %q", vals, wantVals)
	}
	msg := "catalog said: bad credential client:sec-5678 (token tok-9999, url-escaped client%3Asec-5678)"
	if got, want := set.String(msg), "catalog said: bad credential xxxxx (token xxxxx, url-escaped xxxxx)"; got != want {
		t.Errorf("Set.String\n got %q\nwant %q", got, want)
	}
	// A secret URL without a password stays visible.
	out, _ = Config(schema(t), json.RawMessage(`{"url":"postgres://app@db/app?sslmode=disable"}`))
	if string(out) != `{"url":"postgres://app@db/app?sslmode=disable"}` {
		t.Errorf("a URL without credentials was changed: %s", out)
	}
}

func TestFlowAndError(t *testing.T) {
	f := &flow.Flow{Name: "f",
		Source: flow.Component{Type: "t", Config: json.RawMessage(`{"url":"redis://:hunter22@cache:6379/0"}`)},
		Sink:   flow.Component{Type: "t", Config: json.RawMessage(`{"bearer":"tok-1234"}`)}}
	schemas := func(kind sdk.Kind, typ string) []byte { return schema(t) }
	red, set := Flow(f, schemas)
	if string(red.Source.Config) != `{"url":"redis://:xxxxx@cache:6379/0"}` || string(red.Sink.Config) != `{"bearer":"xxxxx"}` {
		t.Errorf("Flow: source %s sink %s", red.Source.Config, red.Sink.Config)
	}
	if string(f.Sink.Config) != `{"bearer":"tok-1234"}` {
		t.Errorf("Flow changed its argument: %s", f.Sink.Config)
	}
	base := &sdk.Error{Code: sdk.CodeUnauthenticated, Summary: "token tok-1234 refused"}
	err := set.Error(base)
	if err.Error() != "token xxxxx refused" {
		t.Errorf("Error: %q", err)
	}
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeUnauthenticated {
		t.Errorf("the redacted error lost its cause: %#v", err)
	}
	var buf bytes.Buffer
	Remember(set)
	_, _ = Writer(&buf).Write([]byte("log: bearer tok-1234 host=db password=pw\n"))
	if buf.String() != "log: bearer xxxxx host=db password=xxxxx\n" {
		t.Errorf("Writer wrote %q", buf.String())
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

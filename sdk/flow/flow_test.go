package flow_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

func messages(err error) []string {
	var out []string
	for _, e := range sdk.AsErrors(err) {
		out = append(out, e.Error())
	}
	return out
}

const allowedFlowKeys = "checkpoint, dead_letter, description, enabled, max_restarts, name, on_error, parallelism, retry_deadline, runtime, schedule, sink, source, timeout, transforms"

func TestParseValid(t *testing.T) {
	yamlDoc := `
# a comment
name: orders
source: {type: file, config: {path: "in/*.csv", header: true}}
transforms:
  - type: filter
    config: {expr: "amount > 10"}
sink:
  type: file
  config:
    path: out.jsonl
schedule: {every: 5m}
retry_deadline: 1m
max_restarts: 3
enabled: false
`
	jsonDoc := `{"name": "orders", "source": {"type": "file", "config": {"path": "in/*.csv", "header": true}},
	  "transforms": [{"type": "filter", "config": {"expr": "amount > 10"}}],
	  "sink": {"type": "file", "config": {"path": "out.jsonl"}},
	  "schedule": {"every": "5m"}, "retry_deadline": "1m", "max_restarts": 3, "enabled": false}`
	for name, doc := range map[string]string{"yaml": yamlDoc, "json": jsonDoc, "json with a yaml comment": jsonDoc + "  # the orders\n"} {
		t.Run(name, func(t *testing.T) {
			f, err := flow.Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if f.Name != "orders" || f.Source.Type != "file" || f.Sink.Type != "file" || len(f.Transforms) != 1 ||
				f.Schedule.Every.D() != 5*time.Minute || f.RetryDeadline.D() != time.Minute || *f.MaxRestarts != 3 || *f.Enabled {
				t.Errorf("parsed %+v", f)
			}
			var src map[string]any
			if err := json.Unmarshal(f.Source.Config, &src); err != nil || !reflect.DeepEqual(src, map[string]any{"path": "in/*.csv", "header": true}) {
				t.Errorf("source config %s (%v)", f.Source.Config, err)
			}
		})
	}
}

// Every problem of the document's own fields is reported at once, with its
// field path, in document order.
func TestDecodeReportsEveryFieldProblem(t *testing.T) {
	_, err := flow.Decode([]byte(`
name: orders
sorce: {type: file}
sink: {type: file, config: {path: out.jsonl}}
parallelism: two
schedule: {every: 5 minutes}
checkpoint: {every: 10}
transforms: {type: filter}
on_eror: skip
`))
	want := []string{
		`sorce: unknown field; did you mean "source"? (allowed: ` + allowedFlowKeys + `)`,
		`parallelism: must be an integer (got the string "two")`,
		`schedule.every: bad duration "5 minutes": use a string such as "30s", "5m", "1h"`,
		`checkpoint.every: a duration must be a string such as "30s", "5m", "1h" (got the number 10)`,
		`transforms: must be a list (got an object)`,
		`on_eror: unknown field; did you mean "on_error"? (allowed: ` + allowedFlowKeys + `)`,
	}
	if got := messages(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%q\nwant:\n%q", got, want)
	}
	_, err = flow.Decode([]byte(`{"name": "u", "source": {"type": "file", "confg": {}}, "sink": {"type": "file"}, "sinks": []}`))
	want = []string{
		`source.confg: unknown field; did you mean "config"? (allowed: config, type)`,
		`sinks: unknown field; did you mean "sink"? (allowed: ` + allowedFlowKeys + `)`,
	}
	if got := messages(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%q\nwant:\n%q", got, want)
	}
}

// The document must be what the user meant: one YAML document or JSON
// object, no key twice; syntax errors name their line.
func TestDecodeDocumentProblems(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"yaml syntax", "name: a\nsource: {type: file\nsink: {type: file}\n",
			[]string{"not valid YAML at line 3, column 1: ',' or '}' must be specified"}},
		{"yaml indentation", "name: a\nsource:\n  type: file\n   config: {}\n",
			[]string{"not valid YAML at line 3, column 9: mapping value is not allowed in this context"}},
		{"yaml tab", "name: a\nsource:\n\ttype: file\n",
			[]string{"not valid YAML at line 3, column 1: found character '\t' that cannot start any token"}},
		{"two yaml documents", "name: a\nsource: {type: file}\nsink: {type: file}\n---\nname: b\n",
			[]string{`more than one YAML document: another one starts at line 4; a flow file holds one flow: remove the "---" line and what follows, or put each flow in a file of its own`}},
		{"yaml key twice", "name: a\nsource:\n  type: file\n  config: {path: x}\n  type: rafka\nname: b\n",
			[]string{
				"source.type: key given twice (at line 3, column 3 and at line 5, column 3): remove one",
				"name: key given twice (at line 1, column 1 and at line 6, column 1): remove one",
			}},
		{"yaml key twice in a component config", "name: a\nsource: {type: file, config: {path: x, path: y}}\n",
			[]string{"source.config.path: key given twice (at line 2, column 31 and at line 2, column 40): remove one"}},
		{"json key twice", "{\"name\": \"a\",\n \"sink\": {\"type\": \"file\"},\n \"name\": \"b\"}",
			[]string{"name: key given twice (at line 1, column 2 and at line 3, column 2): remove one"}},
		{"json trailing content", "{\"name\": \"a\"}\n{\"name\": \"b\"}\n",
			[]string{"unexpected content after the JSON value at line 2, column 1: a document is one JSON object"}},
		{"json trailing garbage", `{"name": "a"} x`,
			[]string{"unexpected content after the JSON value at line 1, column 15: a document is one JSON object"}},
		{"not a mapping", "- name: a\n",
			[]string{"the flow document must be a mapping of keys such as name, source and sink (got a list at line 1)"}},
		{"empty", "# nothing here\n",
			[]string{"the flow document is empty: write a mapping with name, source and sink"}},
		{"alias loop", "name: &n [*n]\n",
			[]string{"name[0][0]: alias *n at line 1, column 11 refers to the value that contains it"}},
		{"not finite", "name: a\nparallelism: .inf\n",
			[]string{"parallelism: .inf at line 2, column 14 is not a finite number"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := flow.Decode([]byte(c.doc))
			if got := messages(err); !reflect.DeepEqual(got, c.want) {
				t.Errorf("errors:\n%q\nwant:\n%q", got, c.want)
			}
			for _, e := range sdk.AsErrors(err) {
				if e.Code != sdk.CodeInvalidConfig {
					t.Errorf("%v has code %s, want %s", e, e.Code, sdk.CodeInvalidConfig)
				}
			}
		})
	}
}

// Aliases expanding to a huge document are refused at once.
func TestDecodeAliasBomb(t *testing.T) {
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		doc += n + ": &" + n + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 10), ", ") + "]\n"
		prev = n
	}
	start := time.Now()
	_, err := flow.Decode([]byte(doc))
	want := []string{"the document expands to more than 100000 values through its aliases (*name); write it out plainly"}
	if got := messages(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

// Merge keys (<<: [*a, *a]) expanding to a huge document are refused at
// once too.
func TestDecodeMergeBomb(t *testing.T) {
	doc := "a0: &a0 {x: 1}\n"
	for i := 1; i < 14; i++ {
		doc += fmt.Sprintf("a%d: &a%d {<<: [*a%d, *a%d, *a%d, *a%d]}\n", i, i, i-1, i-1, i-1, i-1)
	}
	start := time.Now()
	_, err := flow.Decode([]byte(doc))
	want := []string{"the document expands to more than 100000 values through its aliases (*name); write it out plainly"}
	if got := messages(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

// YAML anchors and merge keys work; the mapping's own keys win.
func TestDecodeMergeKeys(t *testing.T) {
	f, err := flow.Parse([]byte(`
name: merged
source: &file {type: file, config: {path: in.csv}}
sink:
  <<: *file
  config: {path: out.jsonl}
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Sink.Type != "file" || string(f.Sink.Config) != `{"path":"out.jsonl"}` {
		t.Errorf("sink %s %s", f.Sink.Type, f.Sink.Config)
	}
}

func TestNameLength(t *testing.T) {
	doc := func(name string) []byte {
		return []byte("name: " + name + "\nsource: {type: file}\nsink: {type: file}\n")
	}
	if _, err := flow.Parse(doc(strings.Repeat("a", flow.MaxNameLength))); err != nil {
		t.Errorf("a name of %d characters: %v", flow.MaxNameLength, err)
	}
	_, err := flow.Parse(doc(strings.Repeat("a", 300)))
	if got, want := messages(err), []string{"name: is 300 characters long; a flow name has 1 to 100"}; !reflect.DeepEqual(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
	_, err = flow.Parse(doc(`""`))
	if got, want := messages(err), []string{`name: must be non-empty and use only a-z, 0-9, _ and - (got "")`}; !reflect.DeepEqual(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
}
